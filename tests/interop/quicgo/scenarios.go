package main

// The scenarios the checker can run. Each uses a fresh QUIC connection, prints one line per
// check and stops at the first failure, since later checks would only repeat it.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

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
