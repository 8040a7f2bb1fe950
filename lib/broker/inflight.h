#pragma once
// QoS 1 / QoS 2 state machines of one session (MQTT 5 §4.3, §4.4; 3.1.1 §4.3), no I/O: the
// caller sends what the return values say.
//
// OutboundInflight -- server as sender, one entry per packet id in the client's window:
//   state           event                      -> result / next state
//   -               add(QoS 1 PUBLISH)         -> kAwaitPubAck
//   kAwaitPubAck    PUBACK                     -> kCompleted (slot freed)
//   -               add(QoS 2 PUBLISH)         -> kAwaitPubRec
//   kAwaitPubRec    PUBREC reason < 0x80       -> kReleased: send PUBREL, kAwaitPubComp; the
//                                                 message itself is dropped (only the id stays)
//   kAwaitPubRec    PUBREC reason >= 0x80      -> kCompleted (the receiver refused it)
//   kAwaitPubComp   PUBCOMP                    -> kCompleted
//   any             ack for an unknown id      -> kUnknown (PUBACK/PUBCOMP: ignore; PUBREC: send
//                                                 PUBREL 0x92 Packet Identifier not found)
//   any             ack of the wrong kind      -> kWrongState (Protocol Error 0x82)
//   reconnect: entries in kAwaitPubAck/kAwaitPubRec are resent as PUBLISH with DUP=1, entries in
//   kAwaitPubComp as PUBREL, in the original send order (MQTT 5 §4.4).
// A slot stays taken until the flow completes (for QoS 2: until PUBCOMP), which is what the
// client's Receive Maximum counts (§4.9).
//
// Packet ids: allocate_id() hands out 1..65535 round robin, skipping ids still in flight.
//
// InboundQos2 -- server as receiver of QoS 2 ("method B" of §4.3.3: the message is routed when
// the PUBLISH arrives; only the packet id is stored until PUBREL). Mosquitto uses method A (stores
// the message and routes it on PUBREL); B keeps no payload in the session and delivers sooner.
//   PUBLISH id not pending  -> begin() true: route it, send PUBREC, id pending
//   PUBLISH id pending      -> begin() false: duplicate, send PUBREC again, do not route
//   PUBREL id pending       -> release() true: send PUBCOMP
//   PUBREL id not pending   -> release() false: send PUBCOMP 0x92 (MQTT 5) / PUBCOMP (3.1.1)

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "broker/outgoing.h"

namespace mquictt::broker {

class OutboundInflight {
 public:
  enum class State : uint8_t { kAwaitPubAck, kAwaitPubRec, kAwaitPubComp };
  struct Entry {
    uint16_t packet_id = 0;
    State state = State::kAwaitPubAck;
    Outgoing out;  // out.msg is reset once released (kAwaitPubComp)
  };
  enum class AckResult : uint8_t { kCompleted, kReleased, kUnknown, kWrongState };

  // A free packet id, or nullopt if all 65535 are in flight.
  std::optional<uint16_t> allocate_id();
  // Records a PUBLISH just sent with `packet_id` (from allocate_id); out.qos must be 1 or 2.
  void add(uint16_t packet_id, Outgoing out);

  AckResult on_puback(uint16_t packet_id);
  AckResult on_pubrec(uint16_t packet_id, uint8_t reason);
  AckResult on_pubcomp(uint16_t packet_id);

  // Drops an entry whatever its state (a message that can no longer be sent).
  void erase(uint16_t packet_id);

  // Entries in send order, for resending after a reconnect.
  const std::list<Entry>& entries() const { return entries_; }
  bool contains(uint16_t packet_id) const { return index_.count(packet_id) != 0; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear();

 private:
  std::list<Entry> entries_;
  std::unordered_map<uint16_t, std::list<Entry>::iterator> index_;
  uint16_t next_id_ = 1;
};

class InboundQos2 {
 public:
  // True if `packet_id` was not pending (a new message: route it).
  bool begin(uint16_t packet_id) { return ids_.insert(packet_id).second; }
  // True if it was pending.
  bool release(uint16_t packet_id) { return ids_.erase(packet_id) != 0; }
  bool pending(uint16_t packet_id) const { return ids_.count(packet_id) != 0; }
  size_t size() const { return ids_.size(); }
  void clear() { ids_.clear(); }

 private:
  std::unordered_set<uint16_t> ids_;
};

}  // namespace mquictt::broker
