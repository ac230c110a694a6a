// Device memory of the CUDA backend: every allocation goes through DeviceBuffer (cudaMalloc), and running out
// of memory or having no usable device become one-line InputErrors ("cuda: ...") that say what was asked and
// what was free. Host code only (C++20).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace g4::engine::cuda {

// Throws InputError("--backend cuda: ...") unless a CUDA device can be used; selects device 0.
void require_device();

// Multiprocessors of device 0 (for launch planning).
int device_sm_count();

// Bytes currently held by all DeviceBuffers of this process.
size_t device_bytes_in_use();

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // `what` names the buffer in the out-of-memory message ("layer 3 gate_up weights").
  DeviceBuffer(size_t bytes, std::string_view what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  void release();
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory for the decode step's small transfers.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  template <typename T>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// "asked 1.50 GiB, 0.75 GiB free of 79.10 GiB" (the text of the out-of-memory error; tested on the host).
std::string memory_message(std::string_view what, size_t asked, size_t free_bytes, size_t total_bytes);

}  // namespace g4::engine::cuda
