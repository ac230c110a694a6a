// check, quantize, bench and forward --backend cpu through the g4eval binary.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/safetensors.h"
#include "tests/reference/tiny_checkpoint.h"
#include "tests/test_util.h"

using namespace g4;

namespace {

struct Run {
  int rc;
  std::string out;
};

Run g4eval(const std::string& args) {
  testing::TempDir tmp("cli_out");
  const auto log = tmp.path / "log.txt";
  const int rc =
      std::system((std::string(G4_BINARY_PATH) + " " + args + " >" + log.string() + " 2>&1").c_str());
  std::ifstream f(log);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, text};
}

std::filesystem::path small_checkpoint() {
  static const std::filesystem::path dir = [] {
    test::TinySpec spec;
    spec.multimodal = false;
    return test::write_tiny_checkpoint(spec, "engine_cli");
  }();
  return dir;
}

}  // namespace

TEST_CASE("g4eval check passes a correct engine and writes JSON", "[cli][check]") {
  testing::TempDir tmp("check");
  const auto json = tmp.path / "check.json";
  const Run r = g4eval("check --model " + small_checkpoint().string() +
                       " --backend cpu --quant q8_0 --tokens 12 --decode-steps 2 --json " + json.string());
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("PASS") != std::string::npos);
  std::ifstream f(json);
  const auto j = nlohmann::json::parse(f);
  CHECK(j["passed"] == true);
  CHECK(j["plan"] == "q8_0");
  CHECK(j["tensors"].size() == 3 * (1 + 3 * 11 + 2));
  CHECK(j["tensors"][0]["tensor"] == "embed");
}

TEST_CASE("g4eval check and forward reject bad arguments with exit 2", "[cli][check]") {
  const std::string m = "--model " + small_checkpoint().string();
  for (const std::string& bad : std::vector<std::string>{
           "check " + m + " --backend nosuch", "check " + m + " --quant q5_k",
           "check " + m + " --mode sideways", "check " + m + " --backend reference",
           "forward " + m + " --backend cpu --quant q4_0,mlp=q8_0 --ids 2 --dump /dev/null"}) {
    const Run r = g4eval(bad);
    INFO(bad << "\n" << r.out);
    CHECK(r.rc == 2);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);  // one line
  }
  std::string too_long = "2";  // max_position_embeddings (4096) + 1 tokens
  for (int i = 0; i < 4096; ++i) too_long += ",7";
  CHECK(g4eval("forward " + m + " --backend cpu --ids " + too_long + " --dump /dev/null").rc == 2);
}

TEST_CASE("g4eval quantize writes a checkpoint the engine loads and a broken one is refused",
          "[cli][quantize]") {
  testing::TempDir tmp("quantize");
  const auto q = tmp.path / "q4_0";
  REQUIRE(g4eval("quantize --model " + small_checkpoint().string() + " --quant q4_0,embed=q8_0 --out " +
                 q.string())
              .rc == 0);
  const auto dump = tmp.path / "out.safetensors";
  const Run ok =
      g4eval("forward --model " + q.string() + " --backend cpu --ids 2,17,99 --dump " + dump.string());
  INFO(ok.out);
  CHECK(ok.rc == 0);
  CHECK(ok.out.find("plan=q4_0,embed=q8_0") != std::string::npos);
  // Quantizing a quantized checkpoint again is refused.
  CHECK(
      g4eval("quantize --model " + q.string() + " --quant q8_0 --out " + (tmp.path / "again").string()).rc ==
      2);

  // The same checkpoint with one q4_0 matrix cut to the wrong block size (2 bytes short per row).
  const auto broken = tmp.path / "broken";
  std::filesystem::create_directories(broken);
  std::filesystem::copy_file(q / "config.json", broken / "config.json");
  {
    const auto f = SafetensorsFile::open(q / "model.safetensors");
    SafetensorsWriter w;
    for (const auto& t : f->tensors()) {
      if (t.name == "model.language_model.layers.0.self_attn.q_proj.weight") {
        const int64_t rows = t.shape[0], rb = t.shape[1];
        std::vector<uint8_t> cut;
        for (int64_t r = 0; r < rows; ++r)
          cut.insert(cut.end(), t.bytes.begin() + r * rb, t.bytes.begin() + r * rb + rb - 2);
        w.add(t.name, t.dtype, {rows, rb - 2}, cut);
      } else {
        w.add(t.name, t.dtype, t.shape, t.bytes);
      }
    }
    for (const auto& [k, v] : f->metadata()) w.set_metadata(k, v);
    w.write(broken / "model.safetensors");
  }
  const Run bad =
      g4eval("forward --model " + broken.string() + " --backend cpu --ids 2,17 --dump " + dump.string());
  INFO(bad.out);
  CHECK(bad.rc == 2);
  CHECK(bad.out.find("q_proj") != std::string::npos);
  CHECK(bad.out.find("block size") != std::string::npos);
}

TEST_CASE("g4eval bench writes llama-bench records", "[cli][bench]") {
  testing::TempDir tmp("bench");
  const auto json = tmp.path / "bench.json";
  const Run r = g4eval("bench --model " + small_checkpoint().string() +
                       " --backend cpu --quant q8_0 --n-prompt 8 --n-gen 4 --depths 0,6 --reps 2 --json " +
                       json.string());
  INFO(r.out);
  REQUIRE(r.rc == 0);
  std::ifstream f(json);
  const auto j = nlohmann::json::parse(f);
  const auto& recs = j["records"];
  REQUIRE(recs.size() == 4);
  for (const auto& rec : recs) {
    for (const char* field : {"n_prompt", "n_gen", "n_depth", "avg_ts", "stddev_ts", "backend", "quant"})
      CHECK(rec.contains(field));
    CHECK(rec["avg_ts"].get<double>() > 0);
    CHECK(rec["samples_ts"].size() == 2);
    const bool prompt = rec["test"].get<std::string>().rfind("pp", 0) == 0;
    CHECK(rec[prompt ? "n_gen" : "n_prompt"] == 0);
  }
  CHECK(recs[2]["n_depth"] == 6);
  CHECK(g4eval("bench --model " + small_checkpoint().string() + " --depths 0,x").rc == 2);
  CHECK(g4eval("bench --shape 12b --backend reference").rc == 2);
}
