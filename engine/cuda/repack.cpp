// Repacking of engine/quant row layouts into the CUDA backend's device layouts (repack.h).
#include "engine/cuda/repack.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace g4::engine::cuda {

using cudak::WFormat;

WFormat to_wformat(quant::Format f) {
  switch (f) {
    case quant::Format::F32:
      return WFormat::F32;
    case quant::Format::BF16:
      return WFormat::BF16;
    case quant::Format::I8:
      return WFormat::I8;
    case quant::Format::Q8_0:
      return WFormat::Q8_0;
    case quant::Format::Q4_0:
      return WFormat::Q4_0;
    case quant::Format::Q4_K:
      return WFormat::Q4_K;
    case quant::Format::Q6_K:
      return WFormat::Q6_K;
    case quant::Format::kSentinel:
      break;
  }
  G4_CHECK(false, "unknown weight format");
}

namespace {

// One stored row (quant::row_bytes long) into its device data row and scale row.
void repack_row(WFormat f, int64_t cols, const uint8_t* src, uint8_t* data, uint8_t* scales) {
  switch (f) {
    case WFormat::F32:
    case WFormat::BF16:
    case WFormat::Q4_K:
      std::memcpy(data, src, static_cast<size_t>(cudak::data_row_bytes(f, cols)));
      return;
    case WFormat::I8:  // [f32 scale][cols × int8]
      std::memcpy(scales, src, 4);
      std::memcpy(data, src + 4, static_cast<size_t>(cols));
      return;
    case WFormat::Q8_0:  // blocks {f16 d, 32 × int8}
      for (int64_t b = 0; b < cols / 32; ++b) {
        std::memcpy(scales + 2 * b, src + 34 * b, 2);
        std::memcpy(data + 32 * b, src + 34 * b + 2, 32);
      }
      return;
    case WFormat::Q4_0:  // blocks {f16 d, 16 nibble bytes}
      for (int64_t b = 0; b < cols / 32; ++b) {
        std::memcpy(scales + 2 * b, src + 18 * b, 2);
        std::memcpy(data + 16 * b, src + 18 * b + 2, 16);
      }
      return;
    case WFormat::Q6_K:  // blocks {ql 128, qh 64, int8 scales 16, f16 d}
      for (int64_t b = 0; b < cols / 256; ++b) {
        std::memcpy(data + 208 * b, src + 210 * b, 208);
        std::memcpy(scales + 2 * b, src + 210 * b + 208, 2);
      }
      return;
  }
}

}  // namespace

std::vector<uint8_t> repack_rows(std::span<const QTensor* const> parts) {
  G4_CHECK(!parts.empty(), "repack_rows: no matrices");
  const quant::Format qf = parts[0]->format;
  const int64_t cols = parts[0]->cols;
  int64_t rows = 0;
  for (const QTensor* p : parts) {
    G4_CHECK(p->format == qf && p->cols == cols,
             "repack_rows: stacked matrices must share format and columns");
    rows += p->rows;
  }
  const WFormat f = to_wformat(qf);
  if (cols % cudak::format_block_elems(f) != 0)
    fail_input("cuda", "a " + std::string(quant::info(qf).name) + " matrix has " + std::to_string(cols) +
                           " columns; the CUDA backend needs a multiple of " +
                           std::to_string(cudak::format_block_elems(f)));
  std::vector<uint8_t> out(static_cast<size_t>(cudak::matrix_bytes(f, rows, cols)), 0);
  const cudak::DevMatrix m = host_view(f, rows, cols, out);
  int64_t r = 0;
  for (const QTensor* p : parts)
    for (int64_t i = 0; i < p->rows; ++i, ++r)
      repack_row(f, cols, p->row(i), m.data + r * m.drb, m.scales ? m.scales + r * m.srb : nullptr);
  return out;
}

cudak::DevMatrix host_view(WFormat f, int64_t rows, int64_t cols, std::vector<uint8_t>& bytes) {
  G4_CHECK(static_cast<int64_t>(bytes.size()) >= cudak::matrix_bytes(f, rows, cols),
           "host_view: buffer too small");
  return cudak::make_dev_matrix(f, rows, cols, bytes.data());
}

}  // namespace g4::engine::cuda
