// Host side of the device weight layouts (engine/cuda/device_math.h): the format mapping and the repacking of
// engine/quant's row layouts (llama.cpp blocks) into the device layouts. Pure C++, tested without a GPU.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/cuda/device_math.h"
#include "engine/quant/format.h"
#include "engine/weights.h"

namespace g4::engine::cuda {

cudak::WFormat to_wformat(quant::Format f);

// The device bytes (cudak::matrix_bytes long) of the matrices `parts` stacked by rows: all must share format
// and column count. A fused projection (q|k|v, gate|up) is one stack.
std::vector<uint8_t> repack_rows(std::span<const QTensor* const> parts);

// A view of a host buffer made by repack_rows (for tests and host-side checks of the device math).
cudak::DevMatrix host_view(cudak::WFormat f, int64_t rows, int64_t cols, std::vector<uint8_t>& bytes);

}  // namespace g4::engine::cuda
