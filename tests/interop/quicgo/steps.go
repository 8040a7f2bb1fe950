package main

// The MQTT exchanges the scenarios are made of. Each step sends something, waits for the
// complete answer and then checks what came back and on which stream; it returns a short
// description for the PASS line or an error for the FAIL line.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	quic "github.com/lucas-clemente/quic-go"
)

// stepHandshake checks what the QUIC handshake negotiated.
func stepHandshake(c *client) (string, error) {
	st := c.conn.ConnectionState().TLS
	if st.NegotiatedProtocol != "mqtt" {
		return "", fmt.Errorf("negotiated ALPN %q, want \"mqtt\"", st.NegotiatedProtocol)
	}
	if st.Version != tls.VersionTLS13 {
		return "", fmt.Errorf("TLS version %#x, want TLS 1.3", st.Version)
	}
	how := "certificate verified against " + c.o.caFile
	if c.o.insecure {
		how = "certificate not verified (-insecure)"
	}
	return fmt.Sprintf("QUIC v1, %s, ALPN mqtt, %s", tls.CipherSuiteName(st.CipherSuite), how), nil
}

func stepConnect(c *client, s *stream, clientID string) (string, error) {
	if err := s.send(connectPacket(c.o.version, clientID, 30)); err != nil {
		return "", err
	}
	var got *received
	err := c.waitFor("CONNACK", func() bool {
		got = c.reply(CONNACK, 0)
		return got != nil
	})
	if err != nil {
		return "", err
	}
	if got.stream != s.name {
		return "", fmt.Errorf("CONNACK arrived on stream %s, want %s", got.stream, s.name)
	}
	if got.codes[0] != 0 {
		return "", fmt.Errorf("CONNACK refused the connection: code %#x", got.codes[0])
	}
	if got.sessionPresent {
		return "", errors.New("CONNACK has session present set for a clean start")
	}
	return fmt.Sprintf("CONNACK 0x00 on %s (client id %s)", s.name, clientID), nil
}

// stepSubscribe subscribes and expects the broker to grant exactly the requested QoS.
func stepSubscribe(c *client, s *stream, subs []subscription) (string, error) {
	id := c.nextID()
	if err := s.send(subscribePacket(c.o.version, id, subs)); err != nil {
		return "", err
	}
	var got *received
	if err := c.waitFor("SUBACK", func() bool { got = c.reply(SUBACK, id); return got != nil }); err != nil {
		return "", err
	}
	if got.stream != s.name {
		return "", fmt.Errorf("SUBACK arrived on stream %s, want %s (the SUBSCRIBE's stream)", got.stream, s.name)
	}
	want := make([]byte, len(subs))
	for i, sub := range subs {
		want[i] = sub.qos
	}
	if string(got.codes) != string(want) {
		return "", fmt.Errorf("SUBACK codes % x, want % x", got.codes, want)
	}
	return fmt.Sprintf("SUBACK on %s grants % x", s.name, got.codes), nil
}

// stepUnsubscribe expects UNSUBACK on the request's stream with the given MQTT 5 reason code
// (3.1.1 UNSUBACK has none, so there only the stream is checked).
func stepUnsubscribe(c *client, s *stream, filter string, wantCode byte) (string, error) {
	id := c.nextID()
	if err := s.send(unsubscribePacket(c.o.version, id, []string{filter})); err != nil {
		return "", err
	}
	var got *received
	if err := c.waitFor("UNSUBACK", func() bool { got = c.reply(UNSUBACK, id); return got != nil }); err != nil {
		return "", err
	}
	if got.stream != s.name {
		return "", fmt.Errorf("UNSUBACK arrived on stream %s, want %s", got.stream, s.name)
	}
	if c.o.version != mqtt5 {
		return fmt.Sprintf("UNSUBACK on %s", s.name), nil
	}
	if len(got.codes) != 1 || got.codes[0] != wantCode {
		return "", fmt.Errorf("UNSUBACK codes % x, want %02x", got.codes, wantCode)
	}
	return fmt.Sprintf("UNSUBACK on %s with reason %#02x", s.name, wantCode), nil
}

// publication describes one PUBLISH and where its delivery is expected.
type publication struct {
	on      *stream // the stream we publish on; the broker's acks must come back here
	topic   string
	qos     byte
	payload string
	to      *stream // the stream whose subscription matches; nil means no delivery expected
	toQoS   byte    // min(publish QoS, granted QoS)
}

// stepPublish publishes and waits for both halves: the broker's acknowledgement of our
// PUBLISH (QoS 1: PUBACK; QoS 2: PUBREC, our PUBREL, PUBCOMP) and the delivery to the
// subscriber including its own acknowledgement flow.
func stepPublish(c *client, p publication) (string, error) {
	var id uint16
	if p.qos > 0 {
		id = c.nextID()
	}
	if err := p.on.send(publishPacket(c.o.version, p.topic, p.qos, id, []byte(p.payload))); err != nil {
		return "", err
	}
	final := map[byte]byte{1: PUBACK, 2: PUBCOMP}[p.qos] // the packet that ends our side
	err := c.waitFor(fmt.Sprintf("QoS %d flow of %q", p.qos, p.payload), func() bool {
		if final != 0 && c.reply(final, id) == nil {
			return false
		}
		if p.to == nil {
			return true
		}
		ds := c.deliveriesOf(p.payload)
		return len(ds) > 0 && ds[0].complete
	})
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	desc := fmt.Sprintf("QoS %d on %s", p.qos, p.on.name)
	for _, t := range []byte{PUBACK, PUBREC, PUBCOMP} {
		n := c.countReplies(t, id)
		if id == 0 || n == 0 {
			continue
		}
		r := c.reply(t, id)
		if n > 1 {
			return "", fmt.Errorf("%d %s for packet id %d, want 1", n, typeName(t), id)
		}
		if r.stream != p.on.name {
			return "", fmt.Errorf("%s arrived on stream %s, want %s (the PUBLISH's stream)", typeName(t), r.stream, p.on.name)
		}
		// 0x10 "no matching subscribers" is a success code too, but here someone always matches.
		if r.codes[0] != 0 && p.to != nil {
			return "", fmt.Errorf("%s reason %#x, want 0x00", typeName(t), r.codes[0])
		}
		desc += ", " + typeName(t)
	}
	if p.qos == 2 && c.reply(PUBREC, id) == nil {
		return "", errors.New("PUBCOMP without a PUBREC before it")
	}
	if p.to == nil {
		return desc + ", not delivered", nil
	}
	ds := c.deliveriesOf(p.payload)
	d := ds[0]
	switch {
	case len(ds) > 1:
		return "", fmt.Errorf("delivered %d times, want once", len(ds))
	case d.stream != p.to.name:
		return "", fmt.Errorf("delivered on stream %s, want %s (the SUBSCRIBE's stream)", d.stream, p.to.name)
	case d.topic != p.topic:
		return "", fmt.Errorf("delivered with topic %q, want %q", d.topic, p.topic)
	case d.qos != p.toQoS:
		return "", fmt.Errorf("delivered at QoS %d, want %d", d.qos, p.toQoS)
	case d.dup || d.retain:
		return "", fmt.Errorf("delivered with DUP=%v RETAIN=%v, want neither", d.dup, d.retain)
	}
	desc += fmt.Sprintf("; delivered once on %s at QoS %d", d.stream, d.qos)
	switch d.qos {
	case 1:
		desc += ", we sent PUBACK"
	case 2:
		desc += ", we sent PUBREC, got PUBREL, sent PUBCOMP"
	}
	return desc, nil
}

// stepExactlyOnce flushes the control stream with PINGREQ/PINGRESP, waits a little for
// stragglers and then checks every payload arrived exactly once (none where none is due).
func stepExactlyOnce(c *client, ctrl *stream, want map[string]int) (string, error) {
	if err := ctrl.send(pingPacket()); err != nil {
		return "", err
	}
	if err := c.waitFor("PINGRESP", func() bool { return c.reply(PINGRESP, 0) != nil }); err != nil {
		return "", err
	}
	if err := c.quiet(300 * time.Millisecond); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.reply(PINGRESP, 0); r.stream != ctrl.name {
		return "", fmt.Errorf("PINGRESP arrived on stream %s, want %s", r.stream, ctrl.name)
	}
	total := 0
	for payload, n := range want {
		if got := len(c.deliveriesOf(payload)); got != n {
			return "", fmt.Errorf("payload %q delivered %d times, want %d", payload, got, n)
		}
		total += n
	}
	if len(c.deliveries) != total {
		return "", fmt.Errorf("%d deliveries in all, want %d", len(c.deliveries), total)
	}
	for _, d := range c.deliveries {
		if !d.complete {
			return "", fmt.Errorf("QoS 2 delivery %q (id %d) never got its PUBREL", d.payload, d.id)
		}
	}
	return fmt.Sprintf("PINGRESP on %s; %d deliveries, each exactly once", ctrl.name, total), nil
}

// stepDisconnect sends DISCONNECT and FIN on the control stream, gives the broker a moment to
// close the connection itself (it must then use application error 0 = no error), and
// otherwise closes it from our side with application error 0.
func stepDisconnect(c *client, ctrl *stream) (string, error) {
	c.update(func() { c.closing = true })
	if err := ctrl.send(disconnectPacket()); err != nil {
		return "", err
	}
	ctrl.qs.Close() // FIN: the control stream is done
	select {
	case <-c.conn.Context().Done():
	case <-time.After(time.Second):
		c.close()
		return "DISCONNECT sent; broker kept the connection open, we closed it with application error 0", nil
	}
	defer c.udp.Close()
	// AcceptStream returns the connection's close error once it is closed.
	_, err := c.conn.AcceptStream(context.Background())
	var ae *quic.ApplicationError
	var te *quic.TransportError
	switch {
	case errors.As(err, &ae) && ae.Remote && ae.ErrorCode == appNoError:
		return "DISCONNECT sent; broker closed the connection with application error 0", nil
	case errors.As(err, &te) && te.Remote && te.ErrorCode == quic.NoError:
		return "DISCONNECT sent; broker closed the connection with NO_ERROR", nil
	}
	return "", fmt.Errorf("after DISCONNECT the broker closed the connection with %v, want application error 0", err)
}
