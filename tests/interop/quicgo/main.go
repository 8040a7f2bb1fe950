// Command mqtt-quicgo-check tests an MQTT-over-QUIC broker from an independent QUIC stack
// (quic-go) with its own small MQTT framing, following EMQX's conventions: ALPN "mqtt", the
// first client bidirectional stream is the control stream, more bidirectional streams may
// carry PUBLISH/SUBSCRIBE. It prints one PASS/FAIL line per check and exits 1 if any failed.
//
// Usage: mqtt-quicgo-check -addr 127.0.0.1:PORT (-ca FILE | -insecure) [-mqtt 5|4] SCENARIO...
// Scenarios: basic, multistream, streamsub, alpn, zerortt, replay.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

var scenarios = map[string]func(*runner){
	"basic":       (*runner).basic,
	"multistream": (*runner).multistream,
	"streamsub":   (*runner).streamsub,
	"alpn":        (*runner).alpn,
	"zerortt":     (*runner).zerortt,
	"replay":      (*runner).zerorttReplay,
}

func main() {
	o := &options{}
	flag.StringVar(&o.addr, "addr", "", "broker UDP address, host:port (required)")
	flag.StringVar(&o.caFile, "ca", "", "PEM CA certificate(s) to verify the broker against")
	flag.BoolVar(&o.insecure, "insecure", false, "do not verify the broker's certificate")
	flag.StringVar(&o.serverName, "servername", "", "TLS server name (default: the host part of -addr)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for each answer")
	version := flag.Int("mqtt", 5, "MQTT protocol level: 5 (MQTT 5.0) or 4 (MQTT 3.1.1)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s -addr HOST:PORT (-ca FILE | -insecure) [flags] SCENARIO...\n"+
				"scenarios: basic multistream streamsub alpn zerortt replay\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()

	host, _, err := net.SplitHostPort(o.addr)
	switch {
	case err != nil:
		usage("-addr: %v", err)
	case o.caFile == "" && !o.insecure:
		usage("give -ca FILE or -insecure")
	case *version != mqtt5 && *version != mqtt311:
		usage("-mqtt must be 5 or 4")
	case flag.NArg() == 0:
		usage("name at least one scenario")
	}
	o.version = byte(*version)
	if o.serverName == "" {
		o.serverName = host
	}
	for _, name := range flag.Args() {
		if scenarios[name] == nil {
			usage("unknown scenario %q", name)
		}
	}
	// quic-go warns on stderr when the kernel caps the UDP receive buffer; that is harmless
	// for a few packets on loopback and would break "one line per check".
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")

	failed := false
	for _, name := range flag.Args() {
		r := &runner{o: o, prefix: fmt.Sprintf("[mqtt%s %s]", map[byte]string{4: "3.1.1", 5: "5"}[o.version], name)}
		scenarios[name](r)
		failed = failed || r.failed
	}
	if failed {
		os.Exit(1)
	}
}

func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mqtt-quicgo-check: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}
