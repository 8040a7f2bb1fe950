package main

// One QUIC connection to the broker carrying MQTT on one or more client-initiated
// bidirectional streams. Each stream has a reader goroutine that records what arrives and
// answers the broker's side of the QoS flows at once, as a real client would; the checks then
// wait for conditions on the record. Keeping the stream name on everything we record lets
// the checks assert EMQX's stream-affinity rules (docs/mqtt-over-quic.md §2.3).

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	quic "github.com/lucas-clemente/quic-go"
)

// Application error codes for CONNECTION_CLOSE, as EMQX uses them (emqx_quic.hrl).
const appNoError quic.ApplicationErrorCode = 0

type options struct {
	addr       string
	caFile     string
	insecure   bool
	serverName string
	timeout    time.Duration
	version    byte
}

func (o *options) tlsConfig(alpn string) (*tls.Config, error) {
	conf := &tls.Config{
		NextProtos:         []string{alpn},
		ServerName:         o.serverName,
		InsecureSkipVerify: o.insecure,
		MinVersion:         tls.VersionTLS13, // QUIC v1 is TLS 1.3 only (RFC 9001 §4.2)
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", o.caFile)
		}
	}
	return conf, nil
}

// dial opens a QUIC v1 connection offering exactly one ALPN. The UDP socket is bound to
// 127.0.0.1 rather than quic.DialAddr's 0.0.0.0, so the checker never listens beyond loopback.
func dial(o *options, alpn string) (quic.Connection, *net.UDPConn, error) {
	tlsConf, err := o.tlsConfig(alpn)
	if err != nil {
		return nil, nil, err
	}
	return dialWith(o, tlsConf, false)
}

// dialWith dials with a prepared TLS configuration (e.g. one with a session cache). With early,
// it returns as soon as 0-RTT data can be sent (quic.DialEarlyContext), before the handshake
// completes, if the cache holds a ticket that allows it.
func dialWith(o *options, tlsConf *tls.Config, early bool) (quic.EarlyConnection, *net.UDPConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", o.addr)
	if err != nil {
		return nil, nil, err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	conf := &quic.Config{
		Versions:             []quic.VersionNumber{quic.Version1},
		HandshakeIdleTimeout: o.timeout,
		MaxIdleTimeout:       30 * time.Second,
	}
	var conn quic.EarlyConnection
	if early {
		conn, err = quic.DialEarlyContext(ctx, udp, raddr, o.serverName, tlsConf, conf)
	} else {
		var c quic.Connection
		c, err = quic.DialContext(ctx, udp, raddr, o.serverName, tlsConf, conf)
		if c != nil {
			conn = c.(quic.EarlyConnection)
		}
	}
	if err != nil {
		udp.Close()
		return nil, nil, err
	}
	return conn, udp, nil
}

// delivery is a PUBLISH the broker sent us.
type delivery struct {
	message
	stream   string
	complete bool // QoS 0/1 on arrival; QoS 2 once PUBREL came and we sent PUBCOMP
}

// received is any other packet the broker sent us.
type received struct {
	reply
	stream string
}

type client struct {
	o    *options
	conn quic.Connection
	udp  *net.UDPConn

	lastID uint16 // packet identifiers, shared by all streams (only the checks' goroutine allocates)

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever the record changes
	deliveries []*delivery
	replies    []received
	problems   []string
	closing    bool // after our DISCONNECT, streams and the connection may end
}

type stream struct {
	name string
	qs   quic.Stream
	c    *client
	wmu  sync.Mutex // quic-go streams are not safe for concurrent Write calls
}

func newClient(o *options) (*client, error) {
	conn, udp, err := dial(o, "mqtt")
	if err != nil {
		return nil, fmt.Errorf("QUIC handshake with %s: %w", o.addr, err)
	}
	return &client{o: o, conn: conn, udp: udp, changed: make(chan struct{})}, nil
}

// close ends the connection with application error 0, EMQX's "no error".
func (c *client) close() {
	c.conn.CloseWithError(appNoError, "")
	c.udp.Close()
}

func (c *client) nextID() uint16 {
	c.lastID++
	if c.lastID == 0 {
		c.lastID = 1
	}
	return c.lastID
}

// openStream opens the next client-initiated bidirectional stream; the first one is the
// control stream (stream ID 0).
func (c *client) openStream(name string) (*stream, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.timeout)
	defer cancel()
	qs, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	s := &stream{name: name, qs: qs, c: c}
	go s.readLoop()
	return s, nil
}

func (s *stream) send(p packet) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.qs.Write(p.encode())
	return err
}

func (s *stream) readLoop() {
	r := bufio.NewReader(s.qs)
	for {
		p, err := readPacket(r)
		if err != nil {
			s.c.update(func() {
				if !s.c.closing {
					s.c.problemf("stream %s ended: %v", s.name, err)
				}
			})
			return
		}
		s.c.handle(s, p)
	}
}

// handle records one packet and sends the client's half of the QoS flows on the same stream.
func (c *client) handle(s *stream, p packet) {
	if p.typ == PUBLISH {
		m, err := decodePublish(c.o.version, p)
		if err != nil {
			c.update(func() { c.problemf("stream %s: %v", s.name, err) })
			return
		}
		switch m.qos {
		case 1:
			err = s.send(ackPacket(PUBACK, m.id))
		case 2:
			err = s.send(ackPacket(PUBREC, m.id))
		}
		c.update(func() {
			c.deliveries = append(c.deliveries, &delivery{message: m, stream: s.name, complete: m.qos < 2})
			if err != nil {
				c.problemf("stream %s: acknowledging PUBLISH: %v", s.name, err)
			}
		})
		return
	}
	rp, err := decodeReply(c.o.version, p)
	if err != nil {
		c.update(func() { c.problemf("stream %s: %v", s.name, err) })
		return
	}
	var sendErr error
	switch rp.typ {
	case PUBREL: // the broker's second step of a QoS 2 delivery: finish it here
		c.mu.Lock()
		d := c.findDelivery(s.name, rp.id)
		c.mu.Unlock()
		if d != nil {
			sendErr = s.send(ackPacket(PUBCOMP, rp.id))
		}
		c.update(func() {
			if d == nil {
				c.problemf("stream %s: PUBREL for id %d, which has no QoS 2 delivery waiting on this stream", s.name, rp.id)
			} else {
				d.complete = true
			}
		})
	case PUBREC: // the broker's answer to our QoS 2 PUBLISH: release it on the same stream
		if rp.codes[0] < 0x80 {
			sendErr = s.send(ackPacket(PUBREL, rp.id))
		}
	}
	c.update(func() {
		c.replies = append(c.replies, received{reply: rp, stream: s.name})
		if sendErr != nil {
			c.problemf("stream %s: answering %s: %v", s.name, typeName(rp.typ), sendErr)
		}
		if (rp.typ == DISCONNECT || rp.typ == AUTH) && !c.closing {
			c.problemf("stream %s: unexpected %s (reason %#x) from the broker", s.name, typeName(rp.typ), rp.codes[0])
		}
	})
}

// findDelivery returns the incomplete QoS 2 delivery with this id on this stream (c.mu held).
func (c *client) findDelivery(streamName string, id uint16) *delivery {
	for _, d := range c.deliveries {
		if d.stream == streamName && d.qos == 2 && d.id == id && !d.complete {
			return d
		}
	}
	return nil
}

func (c *client) problemf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// update changes the record under the lock and wakes the waiters.
func (c *client) update(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor blocks until cond (called with c.mu held) is true. It fails at once if a protocol
// problem was recorded, so a broken broker shows its first symptom rather than a timeout.
func (c *client) waitFor(what string, cond func() bool) error {
	deadline := time.NewTimer(c.o.timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		problems := strings.Join(c.problems, "; ")
		ch := c.changed
		c.mu.Unlock()
		if problems != "" {
			return errors.New(problems)
		}
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("timed out after %v waiting for %s", c.o.timeout, what)
		}
	}
}

// quiet waits d and then fails if anything went wrong meanwhile; used to catch duplicates.
func (c *client) quiet(d time.Duration) error {
	time.Sleep(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) > 0 {
		return errors.New(strings.Join(c.problems, "; "))
	}
	return nil
}

// reply returns the first recorded packet of this type and id, on any stream (c.mu held).
func (c *client) reply(typ byte, id uint16) *received {
	for i := range c.replies {
		if r := &c.replies[i]; r.typ == typ && r.id == id {
			return r
		}
	}
	return nil
}

// countReplies counts packets of this type and id (c.mu held).
func (c *client) countReplies(typ byte, id uint16) int {
	n := 0
	for _, r := range c.replies {
		if r.typ == typ && r.id == id {
			n++
		}
	}
	return n
}

// deliveriesOf returns every delivery carrying this payload (c.mu held).
func (c *client) deliveriesOf(payload string) []*delivery {
	var out []*delivery
	for _, d := range c.deliveries {
		if string(d.payload) == payload {
			out = append(out, d)
		}
	}
	return out
}
