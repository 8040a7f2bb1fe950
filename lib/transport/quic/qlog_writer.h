#pragma once
// The qlog file of one QUIC connection (docs/qlog.md): ngtcp2's own records, verbatim, plus one
// record per MQTT packet received or sent on any of the connection's streams.
//
// Format: what ngtcp2 0.12 writes -- JSON-SEQ (RFC 7464: every record is 0x1E, one JSON text,
// '\n'), qlog 0.3, a header record, then events {"time", "name", "data"} with "time" in whole
// milliseconds relative to the connection's settings.initial_ts (reference_time 0). MQTT events
// use the same reference and unit (`reference` below is that initial_ts), so both kinds of record
// share one time line; see QuicConnection::trace_packet() for how they stay in order.
//
// Ownership: QuicConnection owns its QlogWriter, which owns the FILE*. ngtcp2's final write
// (NGTCP2_QLOG_WRITE_FLAG_FIN, from ngtcp2_conn_del) closes the file; later MQTT events are
// dropped.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "broker/packet_trace.h"
#include "transport/quic/quic_clock.h"

namespace mquictt::quic {

class QlogWriter {
 public:
  // Creates (truncates) `path`. nullptr with `error` set (strerror) if it cannot be opened.
  static std::unique_ptr<QlogWriter> open(const std::string& path, Timestamp reference,
                                          std::string* error);
  ~QlogWriter();
  QlogWriter(const QlogWriter&) = delete;
  QlogWriter& operator=(const QlogWriter&) = delete;

  // False once ngtcp2 finished the trace (or a write failed).
  bool is_open() const { return file_ != nullptr; }
  // ngtcp2's qlog_write callback: appends its bytes as they are; FIN closes the file.
  void write_ngtcp2(uint32_t flags, const void* data, size_t len);
  // An mqtt:packet_received / mqtt:packet_sent record at `ts` (ngtcp2's clock) on `stream_id`.
  void write_packet(Timestamp ts, int64_t stream_id, const broker::PacketTrace& packet);

 private:
  QlogWriter(FILE* file, Timestamp reference) : file_(file), reference_(reference) {}
  void close();

  FILE* file_;
  const Timestamp reference_;  // ngtcp2's settings.initial_ts: "time" 0
  std::string record_;         // reused buffer for one MQTT record
};

// Appends one MQTT event record (0x1E ... '\n') for `packet` at `time_ms` to `out`.
void append_mqtt_record(std::string& out, uint64_t time_ms, int64_t stream_id,
                        const broker::PacketTrace& packet);

// Appends `s` as a JSON string literal (quotes included): '"' and '\\' escaped, control
// characters as \n, \t, ... or \u00XX, DEL as \u007f; bytes that are not well-formed UTF-8 become
// U+FFFD, so the record is valid UTF-8 JSON whatever `s` holds.
void append_json_string(std::string& out, std::string_view s);

}  // namespace mquictt::quic
