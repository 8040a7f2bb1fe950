#include "log/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mquictt::log {

namespace {
spdlog::level::level_enum g_level = spdlog::level::info;
std::mutex g_mutex;
}  // namespace

std::shared_ptr<spdlog::logger> get(const char* name) {
  std::lock_guard lock(g_mutex);
  if (auto l = spdlog::get(name)) return l;
  auto l = spdlog::stderr_color_mt(name);
  l->set_level(g_level);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  return l;
}

void set_level(spdlog::level::level_enum level) {
  std::lock_guard lock(g_mutex);
  g_level = level;
  spdlog::set_level(level);
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

}  // namespace mquictt::log
