#pragma once
// The ngtcp2 callbacks the server connection (QuicConnection) and the client (QuicClient) share:
// one-line trampolines into T's cb_* members (user_data is the T*), the crypto callbacks from
// ngtcp2_crypto, and our randomness. Each side adds its own (client_initial or
// recv_client_initial, stream_open/stream_close, retry, tokens, ...).
//
// T provides: cb_recv_stream_data(flags, stream_id, span), cb_acked_stream_data_offset(stream_id,
// offset, datalen), cb_stream_reset(stream_id, app_error_code), cb_handshake_completed(),
// cb_get_new_connection_id(cid, token, cidlen), cb_path_validation(path, succeeded),
// cb_qlog(flags, data, len) and cb_get_conn().

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <cstddef>
#include <cstdint>

namespace mquictt::quic::callbacks {

template <typename T>
T* self(void* user_data) {
  return static_cast<T*>(user_data);
}

template <typename T>
int recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t, const uint8_t* data,
                     size_t datalen, void* ud, void*) noexcept {
  return self<T>(ud)->cb_recv_stream_data(flags, stream_id, {data, datalen});
}

template <typename T>
int acked_stream_data_offset(ngtcp2_conn*, int64_t stream_id, uint64_t offset, uint64_t datalen,
                             void* ud, void*) noexcept {
  return self<T>(ud)->cb_acked_stream_data_offset(stream_id, offset, datalen);
}

template <typename T>
int stream_reset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t app_error_code, void* ud,
                 void*) noexcept {
  return self<T>(ud)->cb_stream_reset(stream_id, app_error_code);
}

template <typename T>
int handshake_completed(ngtcp2_conn*, void* ud) noexcept {
  return self<T>(ud)->cb_handshake_completed();
}

template <typename T>
int get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen,
                          void* ud) noexcept {
  return self<T>(ud)->cb_get_new_connection_id(cid, token, cidlen);
}

template <typename T>
int path_validation(ngtcp2_conn*, uint32_t, const ngtcp2_path* path,
                    ngtcp2_path_validation_result res, void* ud) noexcept {
  return self<T>(ud)->cb_path_validation(path, res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS);
}

// settings.qlog.write
template <typename T>
void qlog_write(void* ud, uint32_t flags, const void* data, size_t len) noexcept {
  self<T>(ud)->cb_qlog(flags, data, len);
}

// ngtcp2_crypto_conn_ref::get_conn
template <typename T>
ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) noexcept {
  return self<T>(ref->user_data)->cb_get_conn();
}

// Randomness for ngtcp2's non-cryptographic needs (packet number skipping, padding, ...).
inline void rand_bytes(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) noexcept {
  (void)gnutls_rnd(GNUTLS_RND_NONCE, dest, len);
}

// The callbacks both sides set.
template <typename T>
ngtcp2_callbacks common() {
  ngtcp2_callbacks cb{};
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.handshake_completed = handshake_completed<T>;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.recv_stream_data = recv_stream_data<T>;
  cb.acked_stream_data_offset = acked_stream_data_offset<T>;
  cb.rand = rand_bytes;
  cb.get_new_connection_id = get_new_connection_id<T>;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.stream_reset = stream_reset<T>;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.path_validation = path_validation<T>;
  return cb;
}

}  // namespace mquictt::quic::callbacks
