#pragma once
// Result<T>: a value or an Error, for every path driven by peer input (peer input never throws).
// std::expected is not used because clang 14 (the fuzzing compiler) cannot compile libstdc++'s
// <expected>.

#include <cassert>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <variant>

namespace mquictt {

// An MQTT 5 reason code plus a static description. `reason` is the byte that goes on the wire in a
// CONNACK or DISCONNECT; `detail` points to a string literal (no allocation on error paths).
struct Error {
  uint8_t reason = 0x80;  // Unspecified error
  const char* detail = "";
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::in_place_index<1>, e) {}                 // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(e), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return err_;
  }

 private:
  Error err_{};
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace mquictt

// Propagates an error from an expression returning Result<...>.
#define MQ_TRY(expr)                                   \
  do {                                                 \
    auto&& mq_try_r_ = (expr);                         \
    if (!mq_try_r_.ok()) return mq_try_r_.error();     \
  } while (0)

// Assigns the value of a Result<T> expression to `lhs` or propagates its error.
#define MQ_CONCAT_INNER_(a, b) a##b
#define MQ_CONCAT_(a, b) MQ_CONCAT_INNER_(a, b)
#define MQ_ASSIGN_OR_RETURN(lhs, expr) MQ_ASSIGN_OR_RETURN_IMPL_(MQ_CONCAT_(mq_r_, __LINE__), lhs, expr)
#define MQ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.error();              \
  lhs = std::move(tmp).value()
