#pragma once
// When a write burst's bytes start counting against ngtcp2's pacer. Shared by the server
// connection and the client.
//
// ngtcp2 0.12 paces at cwnd / smoothed_rtt * 1.25, and before the first RTT sample smoothed_rtt is
// the configured initial RTT (RFC 9002's 333 ms). A 1200-byte handshake flight then pushes the
// next send ~22 ms into the future (~55 bytes/ms with the 14,520-byte initial window), and until
// then ngtcp2 writes only ACKs: the server's HANDSHAKE_DONE and first stream data, and the
// client's Finished, waited that long even on loopback, where the round trip is ~100 us. RFC
// 9002 7.7 lets a sender burst up to its initial congestion window, which ngtcp2 still enforces (as
// it enforces the 3x anti-amplification limit), so nothing needs pacing before the first RTT
// sample. ngtcp2 itself made the same change in 0.14 (commit 47b88691, "Use 1ms as initial srtt
// when calculating pacing rate").

#include <ngtcp2/ngtcp2.h>

#include "transport/quic/quic_clock.h"

namespace mquictt::quic {

// Call after every write burst, in place of ngtcp2_conn_update_pkt_tx_time(conn, ts). Before the
// connection's first RTT sample it does nothing: the bytes stay on ngtcp2's pacing account and
// are paced, at the measured rate, with the first burst after the sample (slightly more
// conservative than ngtcp2 >= 0.14, which paces them as if the RTT were 1 ms).
void update_pacing(ngtcp2_conn* conn, Timestamp ts);

}  // namespace mquictt::quic
