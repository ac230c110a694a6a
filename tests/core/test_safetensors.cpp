// safetensors reader/writer: files built byte by byte from the format spec (u64 LE header length, JSON
// header, data section), writer roundtrips, and every malformed case the reader must reject.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "tests/test_util.h"

using namespace g4;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

using g4::testing::TempDir;

// Assembles a file exactly as the format spec describes: 8-byte little-endian length, header, data.
Bytes image(const std::string& header, const Bytes& data, uint64_t declared_len) {
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(declared_len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
Bytes image(const std::string& header, const Bytes& data) { return image(header, data, header.size()); }

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_text(const fs::path& p, const std::string& s) { write_file(p, Bytes(s.begin(), s.end())); }

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

// The message of the InputError `f` throws; any other exception escapes and fails the test.
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("expected an InputError");
  return "";
}

// A valid two-tensor file: a = F32[2] {1.0, 2.0}, b = U8[4] {1,2,3,4}.
const std::string kHeader =
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})";
const Bytes kData = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 1, 2, 3, 4};  // 1.0f, 2.0f LE; then b

// Writes `bytes` as bad.safetensors and returns the InputError message of opening it.
std::string open_error(const Bytes& bytes) {
  TempDir dir;
  const auto p = dir.path / "bad.safetensors";
  write_file(p, bytes);
  const std::string msg = input_error([&] { SafetensorsFile::open(p); });
  CHECK(msg.find("bad.safetensors") != std::string::npos);  // names the file
  CHECK(msg.find('\n') == std::string::npos);               // one line
  return msg;
}

std::string with_header(const std::string& header) { return open_error(image(header, kData)); }

}  // namespace

TEST_CASE("reads a file built by hand from the format spec", "[safetensors]") {
  const Bytes file = image(kHeader, kData);
  const auto f = SafetensorsFile::parse(file, "hand.safetensors");
  REQUIRE(f->tensors().size() == 2);
  const TensorView* a = f->find("a");
  REQUIRE(a != nullptr);
  CHECK(a->dtype == DType::F32);
  CHECK(a->shape == std::vector<int64_t>{2});
  CHECK(a->numel() == 2);
  CHECK(to_f32(*a) == std::vector<float>{1.0f, 2.0f});
  // Zero-copy: the view points at the bytes of the image itself (data section starts at 8 + N).
  CHECK(a->bytes.data() == file.data() + 8 + kHeader.size());
  const TensorView* b = f->find("b");
  REQUIRE(b != nullptr);
  CHECK(b->bytes.data() == file.data() + 8 + kHeader.size() + 8);
  CHECK(Bytes(b->bytes.begin(), b->bytes.end()) == Bytes{1, 2, 3, 4});
  CHECK(f->find("c") == nullptr);
  CHECK(f->metadata().empty());
}

TEST_CASE("reads the Python reference writer's layout (metadata first / space padding)", "[safetensors]") {
  // What safetensors.torch.save_file({"w": bf16 [1.5, -2.0]}, metadata={"format": "pt"}) produces: header
  // padded with spaces to a multiple of 8, tensors listed after __metadata__.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})";
  while (header.size() % 8 != 0) header += ' ';
  const Bytes data = {0xc0, 0x3f, 0x00, 0xc0};  // bf16 1.5 = 0x3fc0, -2.0 = 0xc000, little-endian
  const Bytes file = image(header, data);       // parse() does not copy: the image must outlive f
  const auto f = SafetensorsFile::parse(file, "ref.safetensors");
  REQUIRE(f->metadata().size() == 1);
  CHECK(f->metadata().at("format") == "pt");
  CHECK(to_f32(*f->find("w")) == std::vector<float>{1.5f, -2.0f});
}

TEST_CASE("empty header with no data is a valid file", "[safetensors]") {
  const auto f = SafetensorsFile::parse(image("{}", {}), "empty");
  CHECK(f->tensors().empty());
  std::string padded = "{}      ";  // the reference writer's output for an empty dict
  CHECK(SafetensorsFile::parse(image(padded, {}), "empty")->tensors().empty());
}

TEST_CASE("writer output matches the reference byte layout", "[safetensors]") {
  TempDir dir;
  const auto p = dir.path / "w.safetensors";
  SafetensorsWriter w;
  const std::vector<float> v = {1.0f, 2.0f};
  w.add_f32("x", {2}, v);
  w.write(p);
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while (header.size() % 8 != 0) header += ' ';
  CHECK(read_file(p) == image(header, {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40}));
  CHECK_FALSE(fs::exists(dir.path / "w.safetensors.tmp"));
}

TEST_CASE("writer/reader roundtrip over dtypes / scalars and zero-size tensors", "[safetensors]") {
  TempDir dir;
  const auto p = dir.path / "rt.safetensors";
  struct T {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    Bytes bytes;
  };
  std::vector<T> ts = {
      {"bf16", DType::BF16, {2, 2}, {0x80, 0x3f, 0x00, 0xc0, 0xc0, 0x3f, 0x00, 0x00}},
      {"f16", DType::F16, {3}, {0x00, 0x3c, 0xff, 0x7b, 0x01, 0x00}},
      {"f32_scalar", DType::F32, {}, {0x00, 0x00, 0x80, 0x3f}},
      {"i8", DType::I8, {5}, {0x80, 0xff, 0x00, 0x01, 0x7f}},
      {"empty", DType::F32, {0, 3}, {}},
      {"u8", DType::U8, {1, 1, 3}, {7, 8, 9}},
      {"i32", DType::I32, {2}, {0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00}},
  };
  SafetensorsWriter w;
  for (const auto& t : ts) w.add(t.name, t.dtype, t.shape, t.bytes);
  w.set_metadata("format", "pt");
  w.set_metadata("note", "g4 \"quoted\"");
  w.write(p);

  const Bytes raw = read_file(p);
  REQUIRE(raw.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | raw[static_cast<size_t>(i)];
  CHECK(n % 8 == 0);  // data section 8-byte aligned
  size_t total = 0;
  for (const auto& t : ts) total += t.bytes.size();
  CHECK(raw.size() == 8 + n + total);

  const auto f = SafetensorsFile::open(p);
  CHECK(f->path() == p.string());
  CHECK(f->metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"note", "g4 \"quoted\""}});
  REQUIRE(f->tensors().size() == ts.size());
  const uint8_t* expect_at = nullptr;
  for (size_t i = 0; i < ts.size(); ++i) {
    const TensorView* v = f->find(ts[i].name);
    REQUIRE(v != nullptr);
    CHECK(v->dtype == ts[i].dtype);
    CHECK(v->shape == ts[i].shape);
    CHECK(Bytes(v->bytes.begin(), v->bytes.end()) == ts[i].bytes);
    // Stored contiguously in add order, so tensors() (file order) equals add order.
    CHECK(f->tensors()[i].name == ts[i].name);
    if (expect_at != nullptr) CHECK(v->bytes.data() == expect_at);
    expect_at = v->bytes.data() + v->bytes.size();
  }
  CHECK(f->find("f32_scalar")->numel() == 1);
  CHECK(f->find("empty")->numel() == 0);
  CHECK(to_f32(*f->find("bf16")) == std::vector<float>{1.0f, -2.0f, 1.5f, 0.0f});
  CHECK(to_f32(*f->find("f16")) == std::vector<float>{1.0f, 65504.0f, 5.9604644775390625e-8f});
  CHECK(to_f32(*f->find("empty")).empty());
  const std::string msg = input_error([&] { to_f32(*f->find("i8")); });
  CHECK(msg.find("'i8'") != std::string::npos);
  CHECK(msg.find("I8") != std::string::npos);
}

TEST_CASE("writer rejects a byte count that does not match shape x dtype", "[safetensors]") {
  SafetensorsWriter w;
  const Bytes three(3);
  CHECK_THROWS_AS(w.add("x", DType::F32, {1}, three), InternalError);
  CHECK_THROWS_AS(w.add("x", DType::BF16, {2}, three), InternalError);
}

TEST_CASE("malformed file framing is rejected", "[safetensors]") {
  const Bytes good = image(kHeader, kData);
  REQUIRE_NOTHROW(SafetensorsFile::parse(good, "good"));

  SECTION("truncated file (shorter than the length field)") {
    CHECK_THAT(open_error(Bytes(good.begin(), good.begin() + 5)),
               Catch::Contains("shorter than the 8-byte header length"));
    CHECK_THAT(open_error({}), Catch::Contains("file is 0 bytes"));
  }
  SECTION("truncated header") {
    const Bytes cut(good.begin(), good.begin() + 8 + static_cast<long>(kHeader.size() / 2));
    CHECK_THAT(open_error(cut), Catch::Contains("runs past the end of the file"));
  }
  SECTION("header length larger than the file") {
    CHECK_THAT(open_error(image(kHeader, kData, good.size())),
               Catch::Contains("runs past the end of the file"));
  }
  SECTION("header length above 100,000,000") {
    CHECK_THAT(open_error(image(kHeader, kData, 100'000'001)),
               Catch::Contains("exceeds the 100000000-byte limit"));
    CHECK_THAT(open_error(image(kHeader, kData, ~0ull)), Catch::Contains("exceeds the 100000000-byte limit"));
  }
  SECTION("trailing bytes after the last tensor") {
    Bytes data = kData;
    data.push_back(0);
    CHECK_THAT(open_error(image(kHeader, data)), Catch::Contains("trailing bytes"));
  }
  SECTION("data section shorter than the offsets") {
    const Bytes data(kData.begin(), kData.end() - 1);
    CHECK_THAT(open_error(image(kHeader, data)), Catch::Contains("tensor 'b': data_offsets [8,12] run past"));
  }
}

TEST_CASE("malformed headers are rejected naming the tensor and the problem", "[safetensors]") {
  SECTION("not JSON") {
    CHECK_THAT(with_header(replace_once(kHeader, "{", "x")), Catch::Contains("header is not valid JSON"));
    CHECK_THAT(with_header(replace_once(kHeader, "}}", "}")), Catch::Contains("header is not valid JSON"));
  }
  SECTION("JSON array instead of an object") {
    CHECK_THAT(open_error(image(R"([1,2])", {})), Catch::Contains("header is not a JSON object"));
  }
  SECTION("entry not an object") {
    CHECK_THAT(with_header(R"({"a":5})"), Catch::Contains("tensor 'a': header entry is not a JSON object"));
  }
  SECTION("unknown dtype") {
    CHECK_THAT(with_header(replace_once(kHeader, "\"U8\"", "\"Q9\"")),
               Catch::Contains("tensor 'b': unknown dtype \"Q9\""));
  }
  SECTION("missing dtype") {
    CHECK_THAT(with_header(replace_once(kHeader, "\"dtype\":\"U8\",", "")),
               Catch::Contains("tensor 'b': missing"));
  }
  SECTION("negative or float shape") {
    CHECK_THAT(with_header(replace_once(kHeader, "[4]", "[-4]")),
               Catch::Contains("tensor 'b': shape [-4] is not a list of non-negative integers"));
    CHECK_THAT(with_header(replace_once(kHeader, "[4]", "[4.0]")),
               Catch::Contains("is not a list of non-negative integers"));
    CHECK_THAT(with_header(replace_once(kHeader, "[4]", "[\"4\"]")),
               Catch::Contains("is not a list of non-negative integers"));
    CHECK_THAT(with_header(replace_once(kHeader, "[4]", "4")),
               Catch::Contains("tensor 'b': missing or non-array"));
  }
  SECTION("bad data_offsets form") {
    CHECK_THAT(with_header(replace_once(kHeader, "[8,12]", "[8]")),
               Catch::Contains("\"data_offsets\" must be"));
    CHECK_THAT(with_header(replace_once(kHeader, "[8,12]", "[8,12,16]")),
               Catch::Contains("\"data_offsets\" must be"));
    CHECK_THAT(with_header(replace_once(kHeader, "[8,12]", "[-8,12]")),
               Catch::Contains("\"data_offsets\" must be"));
  }
  SECTION("begin after end") {
    CHECK_THAT(with_header(replace_once(kHeader, "[8,12]", "[12,8]")),
               Catch::Contains("tensor 'b': data_offsets [12,8] has begin > end"));
  }
  SECTION("data_offsets beyond the file") {
    const std::string h = replace_once(replace_once(kHeader, "[4]", "[8]"), "[8,12]", "[8,16]");
    CHECK_THAT(with_header(h),
               Catch::Contains("tensor 'b': data_offsets [8,16] run past the data section (12 bytes)"));
  }
  SECTION("overlapping ranges") {
    // b = U8[8] at [4,12] overlaps a = [0,8]; sizes still match their shapes.
    const std::string h = replace_once(replace_once(kHeader, "[4]", "[8]"), "[8,12]", "[4,12]");
    CHECK_THAT(with_header(h), Catch::Contains("tensor 'b': data_offsets [4,12] overlap 'a' [0,8]"));
  }
  SECTION("hole between tensors") {
    // b = U8[3] at [9,12]: byte 8 belongs to nobody.
    const std::string h = replace_once(replace_once(kHeader, "[4]", "[3]"), "[8,12]", "[9,12]");
    CHECK_THAT(with_header(h), Catch::Contains("tensor 'b': data_offsets [9,12] leave a hole after byte 8"));
  }
  SECTION("size mismatch between shape x dtype and the range") {
    CHECK_THAT(with_header(replace_once(kHeader, "[2]", "[3]")),
               Catch::Contains("tensor 'a': data_offsets [0,8] hold 8 bytes but shape [3] x F32 needs 12"));
  }
  SECTION("element count overflow") {
    // 2^40 * 2^40 = 2^80 elements.
    CHECK_THAT(with_header(replace_once(kHeader, "[4]", "[1099511627776,1099511627776]")),
               Catch::Contains("tensor 'b': shape [1099511627776,1099511627776] element count overflows"));
    // 2^62 F32 elements fit in 64 bits, their byte size 2^64 does not.
    CHECK_THAT(with_header(replace_once(kHeader, "[2]", "[4611686018427387904]")),
               Catch::Contains("tensor 'a': shape [4611686018427387904] byte size overflows"));
    // A dimension above INT64_MAX cannot be represented in TensorView::shape.
    CHECK_THAT(with_header(replace_once(kHeader, "[4]", "[9223372036854775808]")),
               Catch::Contains("is not a list of non-negative integers"));
  }
  SECTION("metadata value not a string") {
    const std::string h = replace_once(kHeader, "{\"a\"", R"({"__metadata__":{"format":1},"a")");
    CHECK_THAT(with_header(h), Catch::Contains("\"__metadata__\" value for 'format' is not a string"));
    const std::string h2 = replace_once(kHeader, "{\"a\"", R"({"__metadata__":[1],"a")");
    CHECK_THAT(with_header(h2), Catch::Contains("\"__metadata__\" is not a JSON object"));
  }
}

TEST_CASE("open reports operating-system errors as InputError", "[safetensors]") {
  TempDir dir;
  const std::string missing = input_error([&] { SafetensorsFile::open(dir.path / "nope.safetensors"); });
  CHECK_THAT(missing, Catch::Contains("nope.safetensors: cannot open: No such file or directory"));
  const std::string isdir = input_error([&] { SafetensorsFile::open(dir.path); });
  CHECK_THAT(isdir, Catch::Contains("not a regular file"));
}

namespace {

// Writes shard files with the writer and an index naming them.
void write_shard(const fs::path& p, const std::vector<std::string>& names) {
  SafetensorsWriter w;
  float v = 1.0f;
  for (const auto& n : names) {
    w.add_f32(n, {1}, std::span<const float>(&v, 1));
    v += 1.0f;
  }
  w.write(p);
}

void write_index(const fs::path& dir, const std::string& weight_map_json) {
  write_text(dir / "model.safetensors.index.json",
             R"({"metadata":{"total_size":12},"weight_map":)" + weight_map_json + "}");
}

std::string dir_error(const fs::path& dir) {
  const std::string msg = input_error([&] { WeightSet::open_dir(dir); });
  CHECK(msg.find('\n') == std::string::npos);
  return msg;
}

}  // namespace

TEST_CASE("sharded checkpoint roundtrip via model.safetensors.index.json", "[safetensors]") {
  TempDir dir;
  write_shard(dir.path / "model-00001-of-00002.safetensors", {"layer.0.w", "embed"});
  write_shard(dir.path / "model-00002-of-00002.safetensors", {"layer.1.w"});
  write_index(dir.path, R"({"embed":"model-00001-of-00002.safetensors",
      "layer.0.w":"model-00001-of-00002.safetensors","layer.1.w":"model-00002-of-00002.safetensors"})");
  const WeightSet ws = WeightSet::open_dir(dir.path);
  CHECK(ws.files().size() == 2);
  std::vector<std::string> names;
  for (const auto* t : ws.all()) names.push_back(t->name);
  CHECK(names == std::vector<std::string>{"embed", "layer.0.w", "layer.1.w"});
  CHECK(to_f32(ws.get("layer.0.w")) == std::vector<float>{1.0f});
  CHECK(to_f32(ws.get("embed")) == std::vector<float>{2.0f});
  CHECK(to_f32(ws.get("layer.1.w")) == std::vector<float>{1.0f});
  CHECK(ws.find("missing") == nullptr);
  const std::string msg = input_error([&] { ws.get("missing"); });
  CHECK_THAT(msg, Catch::Contains(dir.path.string()) && Catch::Contains("no tensor 'missing'"));
}

TEST_CASE("single-file checkpoint directory", "[safetensors]") {
  TempDir dir;
  write_shard(dir.path / "model.safetensors", {"a", "b"});
  const WeightSet ws = WeightSet::open_dir(dir.path);
  CHECK(ws.files().size() == 1);
  CHECK(ws.all().size() == 2);
  CHECK(to_f32(ws.get("b")) == std::vector<float>{2.0f});
}

TEST_CASE("bad checkpoint directories are rejected", "[safetensors]") {
  TempDir dir;
  const std::string s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
  SECTION("neither model.safetensors nor an index") {
    CHECK_THAT(dir_error(dir.path),
               Catch::Contains(dir.path.string()) &&
                   Catch::Contains("no model.safetensors or model.safetensors.index.json"));
  }
  SECTION("index points at a missing shard") {
    write_shard(dir.path / s1, {"a"});
    write_index(dir.path, R"({"a":")" + s1 + R"(","b":")" + s2 + "\"}");
    CHECK_THAT(dir_error(dir.path), Catch::Contains(s2) && Catch::Contains("does not exist"));
  }
  SECTION("tensor listed in the index but absent from its shard") {
    write_shard(dir.path / s1, {"a"});
    write_shard(dir.path / s2, {"b"});
    write_index(dir.path, R"({"a":")" + s1 + R"(","b":")" + s2 + R"(","c":")" + s2 + "\"}");
    CHECK_THAT(dir_error(dir.path), Catch::Contains(s2) && Catch::Contains("tensor 'c'") &&
                                        Catch::Contains("absent from this shard"));
  }
  SECTION("duplicate tensor across shards") {
    write_shard(dir.path / s1, {"a", "b"});
    write_shard(dir.path / s2, {"b"});
    write_index(dir.path, R"({"a":")" + s1 + R"(","b":")" + s2 + "\"}");
    CHECK_THAT(dir_error(dir.path),
               Catch::Contains("tensor 'b' is also in") ||
                   Catch::Contains("tensor 'b' is listed in model.safetensors.index.json under"));
  }
  SECTION("tensor in a shard that the index does not list") {
    write_shard(dir.path / s1, {"a", "extra"});
    write_index(dir.path, R"({"a":")" + s1 + "\"}");
    CHECK_THAT(dir_error(dir.path), Catch::Contains(s1) && Catch::Contains("tensor 'extra' is not listed"));
  }
  SECTION("shard paths that leave the directory") {
    fs::create_directories(dir.path / "sub");
    write_shard(dir.path / "outside.safetensors", {"a"});
    write_index(dir.path / "sub", R"({"a":"../outside.safetensors"})");
    CHECK_THAT(dir_error(dir.path / "sub"),
               Catch::Contains("model.safetensors.index.json") && Catch::Contains("not a plain file name"));
    write_index(dir.path / "sub", R"({"a":")" + (dir.path / "outside.safetensors").string() + "\"}");
    CHECK_THAT(dir_error(dir.path / "sub"), Catch::Contains("not a plain file name"));
  }
  SECTION("index that is not JSON or lacks weight_map") {
    write_text(dir.path / "model.safetensors.index.json", "{\"weight_map\": ");
    CHECK_THAT(dir_error(dir.path), Catch::Contains("model.safetensors.index.json: not valid JSON"));
    write_text(dir.path / "model.safetensors.index.json", R"({"metadata":{}})");
    CHECK_THAT(dir_error(dir.path), Catch::Contains("missing or non-object \"weight_map\""));
  }
  SECTION("a malformed shard is reported with the shard's name") {
    write_file(dir.path / s1, image(kHeader, Bytes(kData.begin(), kData.end() - 2)));
    write_index(dir.path, R"({"a":")" + s1 + R"(","b":")" + s1 + "\"}");
    CHECK_THAT(dir_error(dir.path), Catch::Contains(s1) && Catch::Contains("run past the data section"));
  }
}
