package main

// Minimal MQTT 3.1.1 / 5.0 framing: only the packets this checker sends or expects.
// Written from the specifications (MQTT 3.1.1 OASIS Standard, MQTT 5.0 OASIS Standard),
// deliberately independent of the broker's C++ codec so that the two can disagree.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Control packet types (MQTT 5.0 §2.1.2; the numbers are the same in 3.1.1).
const (
	CONNECT     = 1
	CONNACK     = 2
	PUBLISH     = 3
	PUBACK      = 4
	PUBREC      = 5
	PUBREL      = 6
	PUBCOMP     = 7
	SUBSCRIBE   = 8
	SUBACK      = 9
	UNSUBSCRIBE = 10
	UNSUBACK    = 11
	PINGREQ     = 12
	PINGRESP    = 13
	DISCONNECT  = 14
	AUTH        = 15
)

var typeNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH"}

func typeName(t byte) string { return typeNames[t&0x0f] }

// Protocol levels carried in CONNECT.
const (
	mqtt311 = 4
	mqtt5   = 5
)

// packet is one control packet: the fixed header's type and flags, then the body
// (variable header + payload) whose length is the Remaining Length.
type packet struct {
	typ   byte
	flags byte
	body  []byte
}

func (p packet) encode() []byte {
	out := []byte{p.typ<<4 | p.flags}
	out = appendVarint(out, len(p.body))
	return append(out, p.body...)
}

// appendVarint writes a Variable Byte Integer (MQTT 5.0 §1.5.5).
func appendVarint(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// maxPacket bounds what we buffer, so a broken length field can't make us allocate 256 MiB.
const maxPacket = 1 << 20

func readPacket(r *bufio.Reader) (packet, error) {
	h, err := r.ReadByte()
	if err != nil {
		return packet{}, err // io.EOF here is a clean end between packets
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		if i == 4 {
			return packet{}, errors.New("remaining length longer than 4 bytes")
		}
		b, err := r.ReadByte()
		if err != nil {
			return packet{}, midPacket(err)
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	if n > maxPacket {
		return packet{}, fmt.Errorf("%s with remaining length %d (> %d)", typeName(h>>4), n, maxPacket)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return packet{}, midPacket(err)
	}
	return packet{typ: h >> 4, flags: h & 0x0f, body: body}, nil
}

// midPacket turns EOF into an error: a stream ending inside a packet is a framing bug.
func midPacket(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// builder appends the MQTT data types of MQTT 5.0 §1.5.
type builder []byte

func (b *builder) u8(v byte)    { *b = append(*b, v) }
func (b *builder) u16(v uint16) { *b = append(*b, byte(v>>8), byte(v)) }
func (b *builder) raw(p []byte) { *b = append(*b, p...) }
func (b *builder) str(s string) { b.u16(uint16(len(s))); *b = append(*b, s...) }

// noProps writes an empty property list, which exists only in MQTT 5.
func (b *builder) noProps(v byte) {
	if v == mqtt5 {
		b.u8(0)
	}
}

func connectPacket(v byte, clientID string, keepAlive uint16) packet {
	var b builder
	b.str("MQTT")
	b.u8(v)
	b.u8(0x02) // Clean Session (3.1.1) / Clean Start (5): every run starts from nothing
	b.u16(keepAlive)
	b.noProps(v)
	b.str(clientID)
	return packet{typ: CONNECT, body: b}
}

type subscription struct {
	filter string
	qos    byte
}

func subscribePacket(v byte, id uint16, subs []subscription) packet {
	var b builder
	b.u16(id)
	b.noProps(v)
	for _, s := range subs {
		b.str(s.filter)
		b.u8(s.qos)
	}
	return packet{typ: SUBSCRIBE, flags: 0x02, body: b}
}

func unsubscribePacket(v byte, id uint16, filters []string) packet {
	var b builder
	b.u16(id)
	b.noProps(v)
	for _, f := range filters {
		b.str(f)
	}
	return packet{typ: UNSUBSCRIBE, flags: 0x02, body: b}
}

func publishPacket(v byte, topic string, qos byte, id uint16, payload []byte) packet {
	var b builder
	b.str(topic)
	if qos > 0 {
		b.u16(id)
	}
	b.noProps(v)
	b.raw(payload)
	return packet{typ: PUBLISH, flags: qos << 1, body: b}
}

// ackPacket builds PUBACK/PUBREC/PUBREL/PUBCOMP. The two-byte form is valid in both versions:
// MQTT 5 lets a sender omit reason code 0x00 and the properties (§3.4.2.1).
func ackPacket(typ byte, id uint16) packet {
	var b builder
	b.u16(id)
	var flags byte
	if typ == PUBREL {
		flags = 0x02 // §3.6.1: PUBREL's fixed-header flags are 0010
	}
	return packet{typ: typ, flags: flags, body: b}
}

// disconnectPacket has an empty body: in MQTT 5 that means reason 0x00, normal
// disconnection, without properties (§3.14.2.1).
func disconnectPacket() packet { return packet{typ: DISCONNECT} }

func pingPacket() packet { return packet{typ: PINGREQ} }

// reader consumes a packet body; the first error sticks and later reads return zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("truncated: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() byte {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return uint16(p[0])<<8 | uint16(p[1])
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u16()))) }

func (r *reader) varint() int {
	n, mult := 0, 1
	for i := 0; i < 4; i++ {
		b := r.u8()
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			return n
		}
	}
	if r.err == nil {
		r.err = errors.New("variable byte integer longer than 4 bytes")
	}
	return 0
}

// skipProps skips an MQTT 5 property list; we check framing, not individual properties.
func (r *reader) skipProps(v byte) {
	if v == mqtt5 {
		r.take(r.varint())
	}
}

// done reports an error if the body was malformed or has bytes we did not expect.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("malformed %s: %v", what, r.err)
	}
	return nil
}

// message is a decoded PUBLISH.
type message struct {
	topic   string
	qos     byte
	dup     bool
	retain  bool
	id      uint16
	payload []byte
}

func decodePublish(v byte, p packet) (message, error) {
	m := message{qos: p.flags >> 1 & 3, dup: p.flags&8 != 0, retain: p.flags&1 != 0}
	if m.qos == 3 {
		return m, errors.New("malformed PUBLISH: QoS 3")
	}
	r := reader{b: p.body}
	m.topic = r.str()
	if m.qos > 0 {
		m.id = r.u16()
	}
	r.skipProps(v)
	if r.err != nil {
		return m, r.done("PUBLISH")
	}
	m.payload = r.b
	return m, nil
}

// reply is any other packet the broker sends us, reduced to what the checks look at.
type reply struct {
	typ            byte
	id             uint16 // packet identifier, where the type has one
	codes          []byte // reason/return codes: one for CONNACK and acks, one per filter for SUBACK/UNSUBACK
	sessionPresent bool
}

func decodeReply(v byte, p packet) (reply, error) {
	rp := reply{typ: p.typ}
	want := byte(0)
	if p.typ == PUBREL {
		want = 0x02
	}
	if p.flags != want {
		return rp, fmt.Errorf("%s with fixed-header flags %#x, want %#x", typeName(p.typ), p.flags, want)
	}
	r := reader{b: p.body}
	switch p.typ {
	case CONNACK:
		flags := r.u8()
		if flags&^1 != 0 {
			return rp, fmt.Errorf("CONNACK acknowledge flags %#x: reserved bits set", flags)
		}
		rp.sessionPresent = flags&1 != 0
		rp.codes = []byte{r.u8()}
		r.skipProps(v)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		rp.id = r.u16()
		rp.codes = []byte{0}
		// MQTT 5 may add a reason code, then properties; 3.1.1 has exactly the identifier.
		if v == mqtt5 && len(r.b) > 0 {
			rp.codes[0] = r.u8()
			if len(r.b) > 0 {
				r.skipProps(v)
			}
		}
	case SUBACK, UNSUBACK:
		rp.id = r.u16()
		r.skipProps(v)
		// 3.1.1 UNSUBACK carries no codes, so codes stays empty.
		rp.codes = append([]byte(nil), r.b...)
		r.b = nil
		if p.typ == SUBACK && len(rp.codes) == 0 {
			return rp, errors.New("SUBACK without return codes")
		}
	case PINGRESP:
	case DISCONNECT, AUTH:
		if v != mqtt5 && p.typ == AUTH {
			return rp, errors.New("AUTH packet on an MQTT 3.1.1 connection")
		}
		rp.codes = []byte{0}
		if len(r.b) > 0 {
			rp.codes[0] = r.u8()
			if len(r.b) > 0 {
				r.skipProps(v)
			}
		}
	default:
		return rp, fmt.Errorf("unexpected %s from the broker", typeName(p.typ))
	}
	return rp, r.done(typeName(p.typ))
}
