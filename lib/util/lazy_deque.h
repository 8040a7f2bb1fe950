#pragma once
// A FIFO with std::deque's interface that owns no memory while empty. libstdc++'s std::deque
// allocates its map and a 512-byte node even when default-constructed, which is most of the cost
// of an idle connection's (empty) queues; this allocates on the first push and frees the deque
// again when it drains.

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace mquictt {

template <typename T>
class LazyDeque {
 public:
  using iterator = typename std::deque<T>::iterator;
  using const_iterator = typename std::deque<T>::const_iterator;

  bool empty() const { return !d_ || d_->empty(); }
  size_t size() const { return d_ ? d_->size() : 0; }

  T& front() { return d_->front(); }
  const T& front() const { return d_->front(); }
  T& back() { return d_->back(); }
  const T& back() const { return d_->back(); }
  T& operator[](size_t i) { return (*d_)[i]; }
  const T& operator[](size_t i) const { return (*d_)[i]; }

  void push_back(T&& v) { ensure().push_back(std::move(v)); }
  void push_back(const T& v) { ensure().push_back(v); }
  void push_front(T&& v) { ensure().push_front(std::move(v)); }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    return ensure().emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    d_->pop_front();
    release_if_empty();
  }
  void pop_back() {
    d_->pop_back();
    release_if_empty();
  }
  iterator erase(iterator it) {
    auto next = d_->erase(it);
    if (d_->empty()) {
      d_.reset();
      return iterator{};
    }
    return next;
  }
  void clear() { d_.reset(); }

  // Value-initialized iterators compare equal, so an empty queue iterates zero times.
  iterator begin() { return d_ ? d_->begin() : iterator{}; }
  iterator end() { return d_ ? d_->end() : iterator{}; }
  const_iterator begin() const { return d_ ? d_->cbegin() : const_iterator{}; }
  const_iterator end() const { return d_ ? d_->cend() : const_iterator{}; }

 private:
  std::deque<T>& ensure() {
    if (!d_) d_ = std::make_unique<std::deque<T>>();
    return *d_;
  }
  void release_if_empty() {
    if (d_->empty()) d_.reset();
  }

  std::unique_ptr<std::deque<T>> d_;
};

}  // namespace mquictt
