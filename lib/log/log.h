#pragma once
// Named spdlog loggers, one per subsystem. Hot-path debug lines must check
// `lg->should_log(spdlog::level::debug)` before formatting.

#include <memory>

#include <spdlog/spdlog.h>

namespace mquictt::log {

std::shared_ptr<spdlog::logger> get(const char* name);  // "mqtt", "tcp", "quic", "router", ...
inline std::shared_ptr<spdlog::logger> mqtt() { return get("mqtt"); }
inline std::shared_ptr<spdlog::logger> net() { return get("net"); }
inline std::shared_ptr<spdlog::logger> main() { return get("main"); }

// Sets the level of every logger, present and future.
void set_level(spdlog::level::level_enum level);

}  // namespace mquictt::log
