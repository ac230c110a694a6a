// The CPU engine's KV cache of one layer. Full layers keep every position; sliding layers keep a ring of
// the last positions only (slot = position mod capacity), sized for the window plus the chunk being
// prefilled, so a 256K-token context costs a sliding layer no more than its window.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace g4::engine::cpu {

class LayerKvCache {
 public:
  LayerKvCache(int64_t kv_heads, int64_t head_dim, int64_t window /* 0: full layer */)
      : row_(kv_heads * head_dim), window_(window) {}

  // Makes room for positions [len(), len() + T): grows a full cache to hold them all, and a ring to hold the
  // window before them plus the chunk. Allocates only when the capacity must grow (never in steady decoding
  // once `reserve`d).
  void prepare(int64_t T) {
    const int64_t need = window_ > 0 ? (window_ - 1) + T : len_ + T;
    if (need > cap_) regrow(std::max(need, window_ > 0 ? need : cap_ * 2));
  }
  void reserve(int64_t positions) {
    if (positions > cap_) regrow(positions);
  }

  float* k(int64_t pos) { return k_.data() + slot(pos) * row_; }
  float* v(int64_t pos) { return v_.data() + slot(pos) * row_; }
  const float* k(int64_t pos) const { return k_.data() + slot(pos) * row_; }
  const float* v(int64_t pos) const { return v_.data() + slot(pos) * row_; }
  void advance(int64_t T) { len_ += T; }

  int64_t len() const { return len_; }
  int64_t capacity() const { return cap_; }
  // Oldest position still stored.
  int64_t first_kept() const { return window_ > 0 ? std::max<int64_t>(0, len_ - cap_) : 0; }
  size_t bytes() const { return (k_.capacity() + v_.capacity()) * sizeof(float); }

  int64_t slot(int64_t pos) const { return window_ > 0 ? pos % cap_ : pos; }

 private:
  void regrow(int64_t new_cap) {
    std::vector<float> k2(static_cast<size_t>(new_cap * row_)), v2(static_cast<size_t>(new_cap * row_));
    const int64_t from = first_kept();
    for (int64_t p = from; p < len_; ++p) {
      const int64_t s = window_ > 0 ? p % new_cap : p;
      std::memcpy(k2.data() + s * row_, k(p), static_cast<size_t>(row_) * sizeof(float));
      std::memcpy(v2.data() + s * row_, v(p), static_cast<size_t>(row_) * sizeof(float));
    }
    k_.swap(k2);
    v_.swap(v2);
    cap_ = new_cap;
  }

  int64_t row_;
  int64_t window_;
  int64_t cap_ = 0, len_ = 0;
  std::vector<float> k_, v_;
};

}  // namespace g4::engine::cpu
