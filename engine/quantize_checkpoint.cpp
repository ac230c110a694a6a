#include "engine/quantize_checkpoint.h"

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "engine/weights.h"

namespace g4::engine {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::optional<TensorClass> tensor_class_of(const std::string& name) {
  if (name == "model.language_model.embed_tokens.weight") return TensorClass::Embed;
  if (name.rfind("model.language_model.layers.", 0) != 0) return std::nullopt;
  for (const char* p : {".self_attn.q_proj.weight", ".self_attn.k_proj.weight", ".self_attn.v_proj.weight",
                        ".self_attn.o_proj.weight"})
    if (ends_with(name, p)) return TensorClass::Attn;
  for (const char* p : {".mlp.gate_proj.weight", ".mlp.up_proj.weight", ".mlp.down_proj.weight"})
    if (ends_with(name, p)) return TensorClass::Ffn;
  return std::nullopt;
}

QuantizeSummary write_quantized_checkpoint(const std::filesystem::path& in_dir, const WeightPlan& plan,
                                           const std::filesystem::path& out_dir) {
  namespace fs = std::filesystem;
  // Validates the config and every tensor shape first, so a bad checkpoint fails before anything is written.
  const ModelConfig cfg = load_model_config(in_dir / "config.json");
  const WeightSet ws = WeightSet::open_dir(in_dir);
  if (checkpoint_plan(ws))
    fail_input(in_dir.string(), "is already a quantized checkpoint; quantize the original");
  (void)cfg;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) fail_input(out_dir.string(), "cannot create directory: " + ec.message());

  QuantizeSummary sum;
  SafetensorsWriter out;
  for (const TensorView* t : ws.all()) {
    ++sum.tensors;
    sum.bytes_in += t->bytes.size();
    const auto cls = tensor_class_of(t->name);
    if (!cls) {
      out.add(t->name, t->dtype, t->shape, t->bytes);
      sum.bytes_out += t->bytes.size();
      continue;
    }
    if (t->shape.size() != 2) fail_input(in_dir.string(), "tensor " + t->name + " is not a matrix");
    const quant::Format f = plan.of(*cls);
    const int64_t rows = t->shape[0], cols = t->shape[1];
    if (cols % quant::info(f).block_elems != 0)
      fail_input(in_dir.string(), "tensor " + t->name + ": " + std::to_string(cols) +
                                      " columns cannot be stored as " + std::string(quant::info(f).name));
    const QTensor q = quantize_matrix(f, to_f32(*t), rows, cols);
    const std::span<const uint8_t> bytes(q.data, q.bytes());
    if (f == quant::Format::BF16)
      out.add(t->name, DType::BF16, t->shape, bytes);
    else if (f == quant::Format::F32)
      out.add(t->name, DType::F32, t->shape, bytes);
    else
      out.add(t->name, DType::U8, {rows, static_cast<int64_t>(q.row_bytes())}, bytes);
    out.set_metadata("g4.format." + t->name, std::string(quant::info(f).name));
    ++sum.quantized;
    sum.bytes_out += bytes.size();
  }
  out.set_metadata("g4.plan", plan.describe());
  out.set_metadata("format", "pt");
  out.write(out_dir / "model.safetensors");
  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                        "tokenizer.model", "chat_template.jinja", "special_tokens_map.json"}) {
    if (!fs::exists(in_dir / f)) continue;
    fs::copy_file(in_dir / f, out_dir / f, fs::copy_options::overwrite_existing, ec);
    if (ec) fail_input((out_dir / f).string(), "cannot copy: " + ec.message());
  }
  return sum;
}

}  // namespace g4::engine
