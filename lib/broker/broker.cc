#include "broker/broker.h"

#include <utility>

#include "broker/broker_impl.h"

namespace mquictt::broker {

Broker::Broker(BrokerConfig config, Clock& clock)
    : impl_(std::make_unique<BrokerImpl>(std::move(config), clock)) {}

Broker::~Broker() = default;

std::unique_ptr<ByteStreamHandler> Broker::accept(ByteStream& stream,
                                                  const ListenerInfo& listener) {
  return impl_->accept(stream, listener);
}

void Broker::tick() {
  impl_->tick();
}
std::optional<TimeMs> Broker::next_deadline() const {
  return impl_->next_deadline();
}
void Broker::flush() {
  impl_->flush();
}
void Broker::shutdown() {
  impl_->shutdown();
}
void Broker::set_config(BrokerConfig config) {
  impl_->set_config(std::move(config));
}
BrokerStats Broker::stats() const {
  return impl_->stats();
}
void Broker::set_authenticator(std::shared_ptr<Authenticator> auth) {
  impl_->set_authenticator(std::move(auth));
}

}  // namespace mquictt::broker
