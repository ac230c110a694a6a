// DeviceBuffer, PinnedBuffer and the device checks (device_memory.h).
#include "engine/cuda/device_memory.h"

#include <cuda_runtime.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "engine/cuda/check.h"
#include "engine/gpu.h"

namespace g4::engine::cuda {
namespace {

std::atomic<size_t> g_in_use{0};

std::string gib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

std::string memory_message(std::string_view what, size_t asked, size_t free_bytes, size_t total_bytes) {
  return "out of device memory allocating " + std::string(what) + ": asked " + gib(asked) + ", " +
         gib(free_bytes) + " free of " + gib(total_bytes);
}

void require_device() {
  const GpuStatus s = probe_gpu();
  if (!s.available) fail_input("--backend cuda", s.reason);
  G4_CUDA_CALL(cudaSetDevice(0));
}

int device_sm_count() {
  int n = 0;
  G4_CUDA_CALL(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, 0));
  return n;
}

size_t device_bytes_in_use() { return g_in_use.load(); }

DeviceBuffer::DeviceBuffer(size_t bytes, std::string_view what) {
  if (bytes == 0) return;
  const cudaError_t err = cudaMalloc(&ptr_, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it: the process stays usable after the error
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    ptr_ = nullptr;
    fail_input("cuda", memory_message(what, bytes, free_b, total_b));
  }
  G4_CUDA_CALL(err);
  bytes_ = bytes;
  g_in_use += bytes;
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    release();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::release() {
  if (ptr_ == nullptr) return;
  cudaFree(ptr_);  // no throw from a destructor; a failure here means the context is gone anyway
  g_in_use -= bytes_;
  ptr_ = nullptr;
  bytes_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) G4_CUDA_CALL(cudaMallocHost(&ptr_, bytes));
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_ != nullptr) cudaFreeHost(ptr_);
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

}  // namespace g4::engine::cuda
