// open_model for every backend; the reference enters through ReferenceModel, an adapter onto engine::Model.
#include "evals/backends.h"

#include "core/error.h"
#include "reference/model.h"
#include "reference/ops.h"

namespace g4::evals {
namespace {

class ReferenceSession final : public engine::Session {
 public:
  explicit ReferenceSession(reference::Session s, int64_t max_ctx) : s_(std::move(s)), max_ctx_(max_ctx) {}

  std::vector<float> prefill(const ForwardInput& in, engine::LogitsWanted want,
                             const engine::StepHooks& hooks) override {
    if (hooks.layer_input != nullptr) fail_input("--backend", "the reference does not take layer inputs");
    const int64_t T = static_cast<int64_t>(in.ids.size());
    if (s_.length() + T > max_ctx_)
      fail_input("forward input", std::to_string(s_.length() + T) + " tokens exceed the context limit of " +
                                      std::to_string(max_ctx_) + " positions");
    std::vector<float> all = s_.prefill(in, hooks.trace);
    if (want == engine::LogitsWanted::All) return all;
    if (want == engine::LogitsWanted::None) return {};
    const size_t V = all.size() / static_cast<size_t>(T);
    return std::vector<float>(all.end() - static_cast<std::ptrdiff_t>(V), all.end());
  }
  std::vector<float> decode(int32_t id, const engine::StepHooks& hooks) override {
    ForwardInput in;
    in.ids = {id};
    return prefill(in, engine::LogitsWanted::Last, hooks);
  }
  int64_t length() const override { return s_.length(); }
  size_t memory_bytes() const override { return 0; }  // the reference does not account its buffers

 private:
  reference::Session s_;
  int64_t max_ctx_;
};

class ReferenceModel final : public engine::Model {
 public:
  ReferenceModel(reference::Model m, std::string precision)
      : m_(std::move(m)), precision_(std::move(precision)) {}
  std::string backend() const override { return "reference"; }
  std::string plan() const override { return precision_; }
  const ModelConfig& config() const override { return m_.config(); }
  std::unique_ptr<engine::Session> session(int64_t max_context) const override {
    const int64_t limit = m_.config().text.max_position_embeddings;
    return std::make_unique<ReferenceSession>(m_.session(),
                                              max_context > 0 ? std::min(max_context, limit) : limit);
  }
  engine::MemoryUse memory() const override { return {}; }

 private:
  reference::Model m_;
  std::string precision_;
};

void check_reference_options(const BackendOptions& opt) {
  if (!opt.quant.empty() && opt.quant != "bf16" && opt.quant != "f32")
    fail_input(
        "--quant",
        "the reference backend runs unquantized weights; quantized formats need --backend cpu or cuda");
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names{"reference"};
  for (const auto& b : engine::engine_backends()) names.push_back(b);
  return names;
}

std::unique_ptr<engine::Model> open_model(const ModelConfig& cfg, const WeightSet& ws,
                                          const BackendOptions& opt) {
  if (opt.backend == "reference") {
    check_reference_options(opt);
    if (opt.threads > 0) reference::set_num_threads(opt.threads);
    const reference::Precision p = reference::parse_precision(opt.precision);
    return std::make_unique<ReferenceModel>(reference::Model::from_weights(cfg, ws, p), opt.precision);
  }
  engine::EngineOptions eo;
  eo.backend = opt.backend;
  eo.quant = opt.quant;
  eo.threads = opt.threads;
  return engine::model_from_weights(cfg, ws, eo);
}

std::unique_ptr<engine::Model> open_model(const std::filesystem::path& dir, const BackendOptions& opt) {
  bool known = false;
  for (const auto& b : backend_names()) known = known || b == opt.backend;
  if (!known) {
    std::string list;
    for (const auto& b : backend_names()) list += (list.empty() ? "" : ", ") + b;
    fail_input("--backend", "unknown backend '" + opt.backend + "' (this build has: " + list + ")");
  }
  const ModelConfig cfg = load_model_config(dir / "config.json");
  const WeightSet ws = WeightSet::open_dir(dir);
  return open_model(cfg, ws, opt);
}

}  // namespace g4::evals
