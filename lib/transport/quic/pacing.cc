#include "transport/quic/pacing.h"

namespace mquictt::quic {

void update_pacing(ngtcp2_conn* conn, Timestamp ts) {
  ngtcp2_conn_stat stat;
  ngtcp2_conn_get_conn_stat(conn, &stat);
  if (stat.first_rtt_sample_ts == UINT64_MAX) return;
  ngtcp2_conn_update_pkt_tx_time(conn, ts);
}

}  // namespace mquictt::quic
