#include "broker/data_stream.h"

#include <utility>

#include "broker/protocol_handler.h"

namespace mquictt::broker {

DataStreamHandler::~DataStreamHandler() {
  // Destroyed without on_closed() (the transport went away): the stream is gone all the same.
  if (ProtocolHandler* c = std::exchange(conn_, nullptr)) {
    c->on_stream_closed(*this, CloseCause::kTransportGone);
  }
}

void DataStreamHandler::on_data(std::span<const uint8_t> bytes) {
  if (conn_) conn_->on_stream_data(*this, bytes);
}

void DataStreamHandler::on_writable() {
  if (conn_) conn_->on_stream_writable(*this);
}

void DataStreamHandler::on_early_data_confirmed() {
  if (conn_) conn_->release_held(ep_);
}

void DataStreamHandler::on_closed(CloseCause cause) {
  if (ProtocolHandler* c = std::exchange(conn_, nullptr)) c->on_stream_closed(*this, cause);
}

}  // namespace mquictt::broker
