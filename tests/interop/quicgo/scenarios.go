package main

// The scenarios the checker can run. Each uses a fresh QUIC connection, prints one line per
// check and stops at the first failure, since later checks would only repeat it.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	quic "github.com/lucas-clemente/quic-go"
)

type runner struct {
	o      *options
	prefix string // "[mqtt5 basic]" etc., so one log can hold several runs
	failed bool
}

// check runs one step and prints its PASS/FAIL line; it returns false on failure.
func (r *runner) check(name string, step func() (string, error)) bool {
	detail, err := step()
	if err != nil {
		fmt.Printf("FAIL %s %s: %v\n", r.prefix, name, err)
		r.failed = true
		return false
	}
	fmt.Printf("PASS %s %s: %s\n", r.prefix, name, detail)
	return true
}

type namedStep struct {
	name string
	f    func() (string, error)
}

// run runs the steps, then checks exactly-once delivery of want (payload -> count) and
// disconnects; on a failure it closes the connection and stops.
func (r *runner) run(c *client, ctrl *stream, steps []namedStep, want map[string]int) {
	steps = append(steps,
		namedStep{"exactly-once", func() (string, error) { return stepExactlyOnce(c, ctrl, want) }},
		namedStep{"disconnect", func() (string, error) { return stepDisconnect(c, ctrl) }})
	for _, s := range steps {
		if !r.check(s.name, s.f) {
			c.close()
			return
		}
	}
}

// unique makes topic and client id names that no other run or leftover session shares.
func unique() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// connected opens a connection and its control stream and sends CONNECT. On failure it has
// already closed the connection and returns ok == false.
func (r *runner) connected() (*client, *stream, bool) {
	var c *client
	if !r.check("handshake", func() (string, error) {
		var err error
		if c, err = newClient(r.o); err != nil {
			return "", err
		}
		return stepHandshake(c)
	}) {
		if c != nil {
			c.close()
		}
		return nil, nil, false
	}
	var ctrl *stream
	ok := r.check("connect", func() (string, error) {
		var err error
		if ctrl, err = c.openStream("ctrl"); err != nil {
			return "", err
		}
		return stepConnect(c, ctrl, "quicgo-"+unique())
	})
	if !ok {
		c.close()
	}
	return c, ctrl, ok
}

// basic: everything on the control stream, which is all a single-stream client ever uses.
func (r *runner) basic() {
	c, ctrl, ok := r.connected()
	if !ok {
		return
	}
	base := "quicgo/" + unique() + "/"
	subs := []subscription{{base + "q0", 0}, {base + "q1", 1}, {base + "q2", 2}}
	steps := []namedStep{
		{"subscribe", func() (string, error) { return stepSubscribe(c, ctrl, subs) }},
	}
	want := map[string]int{}
	for q := byte(0); q <= 2; q++ {
		p := publication{on: ctrl, topic: subs[q].filter, qos: q, payload: fmt.Sprintf("basic-q%d-%s", q, unique()), to: ctrl, toQoS: q}
		want[p.payload] = 1
		steps = append(steps, namedStep{fmt.Sprintf("publish-qos%d", q), func() (string, error) { return stepPublish(c, p) }})
	}
	r.run(c, ctrl, steps, want)
}

// multistream: publish on a second bidirectional stream. EMQX answers PUBACK/PUBREC/PUBCOMP
// on the PUBLISH's stream and delivers on the stream where the SUBSCRIBE arrived.
func (r *runner) multistream() {
	c, ctrl, ok := r.connected()
	if !ok {
		return
	}
	topic := "quicgo/" + unique() + "/ms"
	var data *stream
	steps := []namedStep{
		{"subscribe", func() (string, error) { return stepSubscribe(c, ctrl, []subscription{{topic, 2}}) }},
		{"open-data-stream", func() (string, error) {
			var err error
			if data, err = c.openStream("data1"); err != nil {
				return "", err
			}
			return fmt.Sprintf("second bidirectional stream, id %d", data.qs.StreamID()), nil
		}},
	}
	want := map[string]int{}
	for q := byte(0); q <= 2; q++ {
		q, payload := q, fmt.Sprintf("ms-q%d-%s", q, unique())
		want[payload] = 1
		steps = append(steps, namedStep{fmt.Sprintf("data-stream-publish-qos%d", q), func() (string, error) {
			return stepPublish(c, publication{on: data, topic: topic, qos: q, payload: payload, to: ctrl, toQoS: q})
		}})
	}
	r.run(c, ctrl, steps, want)
}

// streamsub: a subscription made on a data stream belongs to that stream. Deliveries go
// there, and an UNSUBSCRIBE from another stream finds nothing (MQTT 5 reason 0x11).
func (r *runner) streamsub() {
	c, ctrl, ok := r.connected()
	if !ok {
		return
	}
	topic := "quicgo/" + unique() + "/ss"
	var data *stream
	want := map[string]int{}
	// pub publishes on the control stream; with deliver, the data stream must receive it.
	pub := func(q byte, deliver bool) func() (string, error) {
		payload := fmt.Sprintf("ss-q%d-%s", q, unique())
		if deliver {
			want[payload] = 1
		}
		return func() (string, error) {
			p := publication{on: ctrl, topic: topic, qos: q, payload: payload, toQoS: q}
			if deliver {
				p.to = data // read when the step runs: data is opened by an earlier step
			}
			return stepPublish(c, p)
		}
	}
	steps := []namedStep{
		{"open-data-stream", func() (string, error) {
			var err error
			data, err = c.openStream("data1")
			return "second bidirectional stream", err
		}},
		{"data-stream-subscribe", func() (string, error) { return stepSubscribe(c, data, []subscription{{topic, 2}}) }},
		{"deliver-on-data-stream-qos1", pub(1, true)},
		{"deliver-on-data-stream-qos2", pub(2, true)},
		{"unsubscribe-other-stream", func() (string, error) { return stepUnsubscribe(c, ctrl, topic, 0x11) }},
		{"still-subscribed-qos1", pub(1, true)},
		{"unsubscribe-own-stream", func() (string, error) { return stepUnsubscribe(c, data, topic, 0x00) }},
		{"no-delivery-after-unsubscribe", pub(1, false)},
	}
	r.run(c, ctrl, steps, want)
}

// alpn: a client offering only "h3" must be refused during the handshake with TLS alert 120
// no_application_protocol, i.e. QUIC CRYPTO_ERROR 0x100+120 = 0x178.
func (r *runner) alpn() {
	r.check("alpn-h3-refused", func() (string, error) {
		conn, udp, err := dial(r.o, "h3")
		if err == nil {
			conn.CloseWithError(appNoError, "")
			udp.Close()
			return "", errors.New("handshake with ALPN h3 succeeded; only mqtt may be accepted")
		}
		var te *quic.TransportError
		if errors.As(err, &te) && te.Remote && te.ErrorCode == 0x178 {
			return "broker refused with CRYPTO_ERROR 0x178 (no_application_protocol)", nil
		}
		return "", fmt.Errorf("want the broker to close with CRYPTO_ERROR 0x178, got: %v", err)
	})
}

// zerortt: session resumption and 0-RTT, as quic-go does it (unlike a GnuTLS 3.7 client, it
// sends 0-RTT with its very first flight). The first connection leaves with a session ticket;
// the second one, dialled with quic.DialEarlyContext, writes CONNECT, SUBSCRIBE and a QoS 0
// PUBLISH to its own subscription before the handshake completes. The broker must answer all
// three (docs/quic.md "0-RTT and resumption"), and TLS must report that 0-RTT was used.
func (r *runner) zerortt() {
	tlsConf, err := r.o.tlsConfig("mqtt")
	if err != nil {
		r.check("tls-config", func() (string, error) { return "", err })
		return
	}
	tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	if !r.check("ticket", func() (string, error) {
		conn, udp, err := dialWith(r.o, tlsConf, false)
		if err != nil {
			return "", err
		}
		c := &client{o: r.o, conn: conn, udp: udp, changed: make(chan struct{})}
		defer c.close()
		ctrl, err := c.openStream("ctrl")
		if err != nil {
			return "", err
		}
		if _, err := stepConnect(c, ctrl, "quicgo-"+unique()); err != nil {
			return "", err
		}
		// The NewSessionTicket follows the handshake; a PING round trip makes sure it arrived.
		if err := ctrl.send(pingPacket()); err != nil {
			return "", err
		}
		if err := c.waitFor("PINGRESP", func() bool { return c.reply(PINGRESP, 0) != nil }); err != nil {
			return "", err
		}
		if _, err := stepDisconnect(c, ctrl); err != nil {
			return "", err
		}
		return "full handshake, CONNACK, session ticket stored", nil
	}) {
		return
	}
	r.check("early-data", func() (string, error) {
		conn, udp, err := dialWith(r.o, tlsConf, true)
		if err != nil {
			return "", err
		}
		c := &client{o: r.o, conn: conn, udp: udp, changed: make(chan struct{})}
		defer c.close()
		before := true
		select {
		case <-conn.HandshakeComplete().Done():
			before = false
		default:
		}
		qs, err := conn.OpenStream()
		if err != nil {
			return "", err
		}
		ctrl := &stream{name: "ctrl", qs: qs, c: c}
		go ctrl.readLoop()
		topic := "quicgo/" + unique() + "/early"
		payload := "early-" + unique()
		var flight []byte
		flight = append(flight, connectPacket(r.o.version, "quicgo-"+unique(), 30).encode()...)
		flight = append(flight, subscribePacket(r.o.version, c.nextID(), []subscription{{topic, 0}}).encode()...)
		flight = append(flight, publishPacket(r.o.version, topic, 0, 0, []byte(payload)).encode()...)
		if _, err := qs.Write(flight); err != nil {
			return "", err
		}
		if !before {
			return "", errors.New("the handshake completed before we wrote: nothing was early data")
		}
		err = c.waitFor("CONNACK, SUBACK and the delivery", func() bool {
			return c.reply(CONNACK, 0) != nil && c.reply(SUBACK, 1) != nil && len(c.deliveriesOf(payload)) == 1
		})
		if err != nil {
			return "", err
		}
		if got := c.reply(CONNACK, 0); got.codes[0] != 0 {
			return "", fmt.Errorf("CONNACK refused the connection: code %#x", got.codes[0])
		}
		<-conn.HandshakeComplete().Done()
		st := conn.ConnectionState().TLS
		if !st.DidResume {
			return "", errors.New("the session was not resumed")
		}
		if !st.Used0RTT {
			return "", errors.New("the server did not accept 0-RTT (the bytes were resent in 1-RTT)")
		}
		if _, err := stepDisconnect(c, ctrl); err != nil {
			return "", err
		}
		return "resumed; CONNECT, SUBSCRIBE and QoS 0 PUBLISH written before the handshake completed, sent as 0-RTT and accepted", nil
	})
}

// recordingConn is the UDP socket of a connection whose first flight we want to replay: it
// records what quic-go writes while recording is on, and reads nothing before gate is closed
// (so the handshake cannot complete before our 0-RTT data left). It deliberately exposes only
// net.PacketConn, so quic-go writes through WriteTo.
type recordingConn struct {
	udp  *net.UDPConn
	gate chan struct{}

	mu     sync.Mutex
	record bool
	sent   [][]byte
}

func (r *recordingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	<-r.gate
	return r.udp.ReadFrom(p)
}
func (r *recordingConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	r.mu.Lock()
	if r.record {
		r.sent = append(r.sent, append([]byte(nil), p...))
	}
	r.mu.Unlock()
	return r.udp.WriteTo(p, addr)
}
func (r *recordingConn) Close() error                       { return r.udp.Close() }
func (r *recordingConn) LocalAddr() net.Addr                { return r.udp.LocalAddr() }
func (r *recordingConn) SetDeadline(t time.Time) error      { return r.udp.SetDeadline(t) }
func (r *recordingConn) SetReadDeadline(t time.Time) error  { return r.udp.SetReadDeadline(t) }
func (r *recordingConn) SetWriteDeadline(t time.Time) error { return r.udp.SetWriteDeadline(t) }

// zerorttReplay: an attacker who captured a client's first flight (ClientHello and 0-RTT
// packets carrying CONNECT and a QoS 0 PUBLISH) sends it again from another address after the
// connection ended. The broker's TLS anti-replay record refuses the replayed early data, so the
// PUBLISH is not delivered a second time (docs/quic.md "Anti-replay").
func (r *runner) zerorttReplay() {
	tlsConf, err := r.o.tlsConfig("mqtt")
	if err != nil {
		r.check("tls-config", func() (string, error) { return "", err })
		return
	}
	tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	obs, octrl, ok := r.connected()
	if !ok {
		return
	}
	defer obs.close()
	topic := "quicgo/" + unique() + "/replay"
	if !r.check("observer-subscribe", func() (string, error) {
		return stepSubscribe(obs, octrl, []subscription{{topic, 0}})
	}) {
		return
	}
	payload := "replayed-" + unique()
	var flight [][]byte
	if !r.check("ticket-and-early-publish", func() (string, error) {
		for round := 0; round < 2; round++ { // a full handshake for the ticket, then 0-RTT
			raddr, err := net.ResolveUDPAddr("udp", r.o.addr)
			if err != nil {
				return "", err
			}
			udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return "", err
			}
			rec := &recordingConn{udp: udp, gate: make(chan struct{}), record: round == 1}
			if round == 0 {
				close(rec.gate)
			}
			ctx, cancel := context.WithTimeout(context.Background(), r.o.timeout)
			conn, err := quic.DialEarlyContext(ctx, rec, raddr, r.o.serverName, tlsConf, &quic.Config{
				Versions: []quic.VersionNumber{quic.Version1}, HandshakeIdleTimeout: r.o.timeout})
			cancel()
			if err != nil {
				udp.Close()
				return "", err
			}
			c := &client{o: r.o, conn: conn, udp: udp, changed: make(chan struct{})}
			qs, err := conn.OpenStream()
			if err != nil {
				c.close()
				return "", err
			}
			ctrl := &stream{name: "ctrl", qs: qs, c: c}
			go ctrl.readLoop()
			msg := connectPacket(r.o.version, "quicgo-"+unique(), 30).encode()
			if round == 1 {
				msg = append(msg, publishPacket(r.o.version, topic, 0, 0, []byte(payload)).encode()...)
			}
			if _, err := qs.Write(msg); err != nil {
				c.close()
				return "", err
			}
			if round == 1 {
				// Nothing from the server is read yet: these bytes can only leave as 0-RTT.
				time.Sleep(100 * time.Millisecond)
				close(rec.gate)
			}
			<-conn.HandshakeComplete().Done()
			rec.mu.Lock()
			rec.record = false
			flight = rec.sent
			rec.mu.Unlock()
			if err := c.waitFor("CONNACK", func() bool { return c.reply(CONNACK, 0) != nil }); err != nil {
				c.close()
				return "", err
			}
			if round == 1 && !conn.ConnectionState().TLS.Used0RTT {
				c.close()
				return "", errors.New("the server did not accept 0-RTT")
			}
			ctrl.send(pingPacket())
			if err := c.waitFor("PINGRESP", func() bool { return c.reply(PINGRESP, 0) != nil }); err != nil {
				c.close()
				return "", err
			}
			if _, err := stepDisconnect(c, ctrl); err != nil {
				return "", err
			}
		}
		if err := obs.waitFor("the 0-RTT PUBLISH", func() bool { return len(obs.deliveriesOf(payload)) == 1 }); err != nil {
			return "", err
		}
		return fmt.Sprintf("0-RTT PUBLISH delivered once; first flight captured (%d datagrams)", len(flight)), nil
	}) {
		return
	}
	r.check("replay-refused", func() (string, error) {
		// The broker forgets the connection after its closing period (3 x PTO; the RTT includes our
		// 100 ms gate): the replay must start a new connection, not hit the old one.
		time.Sleep(3 * time.Second)
		raddr, err := net.ResolveUDPAddr("udp", r.o.addr)
		if err != nil {
			return "", err
		}
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return "", err
		}
		defer udp.Close()
		for _, d := range flight {
			if _, err := udp.WriteTo(d, raddr); err != nil {
				return "", err
			}
		}
		time.Sleep(time.Second)
		obs.mu.Lock()
		n := len(obs.deliveriesOf(payload))
		obs.mu.Unlock()
		if n != 1 {
			return "", fmt.Errorf("the replayed PUBLISH was delivered again (%d deliveries)", n)
		}
		return fmt.Sprintf("%d datagrams replayed from another port; no second delivery", len(flight)), nil
	})
	stepDisconnect(obs, octrl)
}
