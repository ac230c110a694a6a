// safetensors reader (mmap, zero-copy), sharded checkpoint directories, writer, and float widening.
// Format: u64 LE header length N, N bytes of JSON header, then the data section; data_offsets are relative
// to the start of the data section. Validation mirrors the reference implementation (huggingface/safetensors
// `SafeTensors::read_metadata` + `Metadata::validate`): see core/safetensors.h.
// Note: JSON objects with duplicate keys keep the last value (nlohmann's behaviour; serde_json's too).
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace g4 {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

std::string in_quotes(const std::string& name) { return "'" + name + "'"; }

std::string range_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + "," + std::to_string(end) + "]";
}

// A JSON value that is a non-negative integer (floats, negatives, strings are not).
bool as_u64(const nlohmann::json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

struct RawEntry {
  TensorView view;
  uint64_t begin = 0, end = 0;
};

RawEntry parse_entry(const std::string& label, const std::string& name, const nlohmann::json& v) {
  const std::string who = "tensor " + in_quotes(name) + ": ";
  if (!v.is_object()) fail_input(label, who + "header entry is not a JSON object");
  RawEntry e;
  e.view.name = name;

  const auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) fail_input(label, who + "missing or non-string \"dtype\"");
  const auto dtype = dtype_from_name(dt->get_ref<const std::string&>());
  if (!dtype) fail_input(label, who + "unknown dtype \"" + dt->get<std::string>() + "\"");
  e.view.dtype = *dtype;

  const auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) fail_input(label, who + "missing or non-array \"shape\"");
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    uint64_t dim = 0;
    if (!as_u64(d, dim) || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail_input(label, who + "shape " + sh->dump() + " is not a list of non-negative integers");
    if (__builtin_mul_overflow(numel, dim, &numel))
      fail_input(label, who + "shape " + sh->dump() + " element count overflows 64 bits");
    e.view.shape.push_back(static_cast<int64_t>(dim));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(*dtype)), &nbytes))
    fail_input(label, who + "shape " + sh->dump() + " byte size overflows 64 bits");

  const auto off = v.find("data_offsets");
  uint64_t begin = 0, end = 0;
  if (off == v.end() || !off->is_array() || off->size() != 2 || !as_u64((*off)[0], begin) ||
      !as_u64((*off)[1], end))
    fail_input(label, who + "\"data_offsets\" must be [begin, end] of non-negative integers");
  if (begin > end) fail_input(label, who + "data_offsets " + range_text(begin, end) + " has begin > end");
  if (end - begin != nbytes)
    fail_input(label, who + "data_offsets " + range_text(begin, end) + " hold " +
                          std::to_string(end - begin) + " bytes but shape " + sh->dump() + " x " +
                          std::string(dtype_name(*dtype)) + " needs " + std::to_string(nbytes));
  e.begin = begin;
  e.end = end;
  return e;
}

void parse_metadata(const std::string& label, const nlohmann::json& v,
                    std::map<std::string, std::string>& out) {
  if (v.is_null()) return;  // the reference reader treats null as absent (Option<HashMap>)
  if (!v.is_object()) fail_input(label, "\"__metadata__\" is not a JSON object");
  for (const auto& [k, val] : v.items()) {
    if (!val.is_string())
      fail_input(label, "\"__metadata__\" value for " + in_quotes(k) + " is not a string");
    out[k] = val.get<std::string>();
  }
}

// Sorts entries by offset and requires them to tile the data section exactly.
void check_layout(const std::string& label, std::vector<RawEntry>& entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const RawEntry& a, const RawEntry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.view.name < b.view.name;
  });
  uint64_t expected = 0;
  const RawEntry* prev = nullptr;
  for (const auto& e : entries) {
    const std::string who =
        "tensor " + in_quotes(e.view.name) + ": data_offsets " + range_text(e.begin, e.end);
    if (e.end > data_size)
      fail_input(label, who + " run past the data section (" + std::to_string(data_size) + " bytes)");
    if (e.begin < expected)
      fail_input(label,
                 who + " overlap " + in_quotes(prev->view.name) + " " + range_text(prev->begin, prev->end));
    if (e.begin > expected)
      fail_input(label,
                 who + " leave a hole after byte " + std::to_string(expected) + " of the data section");
    expected = e.end;
    prev = &e;
  }
  if (expected != data_size)
    fail_input(label, "tensors cover " + std::to_string(expected) + " bytes but the data section has " +
                          std::to_string(data_size) + " (trailing bytes)");
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated at parse time not to overflow
  return n;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::parse(std::span<const uint8_t> data,
                                                        const std::string& label) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = label;
  if (data.size() < 8)
    fail_input(label,
               "file is " + std::to_string(data.size()) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[static_cast<size_t>(i)];
  if (n > kMaxHeaderBytes)
    fail_input(label, "header length " + std::to_string(n) + " exceeds the 100000000-byte limit");
  if (n > data.size() - 8)
    fail_input(label, "header length " + std::to_string(n) + " runs past the end of the file (" +
                          std::to_string(data.size()) + " bytes)");
  const auto* hb = data.data() + 8;
  const nlohmann::json header = nlohmann::json::parse(hb, hb + n, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) fail_input(label, "header is not valid JSON");
  if (!header.is_object()) fail_input(label, "header is not a JSON object");

  std::vector<RawEntry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      parse_metadata(label, v, f->metadata_);
      continue;
    }
    entries.push_back(parse_entry(label, name, v));
  }
  const uint64_t data_start = 8 + n;
  check_layout(label, entries, data.size() - data_start);
  f->tensors_.reserve(entries.size());
  for (auto& e : entries) {
    e.view.bytes =
        data.subspan(static_cast<size_t>(data_start + e.begin), static_cast<size_t>(e.end - e.begin));
    f->tensors_.push_back(std::move(e.view));
  }
  f->index();
  return f;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string label = path.string();
  const int fd = ::open(label.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_input(label, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    fail_input(label, "cannot stat: " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_input(label, "not a regular file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail_input(label, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string why = errno_text();
  ::close(fd);  // the mapping keeps the file alive
  if (map == MAP_FAILED) fail_input(label, "cannot mmap: " + why);
  std::shared_ptr<SafetensorsFile> parsed;
  try {
    parsed = parse({static_cast<const uint8_t*>(map), size}, label);
  } catch (...) {
    ::munmap(map, size);
    throw;
  }
  parsed->map_ = map;
  parsed->map_size_ = size;
  return parsed;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

void SafetensorsFile::index() {
  by_name_.clear();
  for (const auto& t : tensors_) by_name_[t.name] = &t;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {

nlohmann::json read_index(const std::filesystem::path& file) {
  const std::string label = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_input(label, "cannot open: " + errno_text());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > (64u << 20)) fail_input(label, "index is larger than 64 MiB");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail_input(label, "not valid JSON");
  if (!j.is_object()) fail_input(label, "not a JSON object");
  return j;
}

// Shard names must stay inside the checkpoint directory: a plain file name, no separators, no dots-only.
bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

WeightSet WeightSet::open_dir(const std::filesystem::path& dir) {
  WeightSet ws;
  ws.dir_ = dir;
  const auto index_path = dir / kIndexName;
  const auto single_path = dir / kSingleName;
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  std::vector<std::string> shard_names;
  const bool sharded = std::filesystem::exists(index_path);
  if (sharded) {
    const std::string label = index_path.string();
    const nlohmann::json j = read_index(index_path);
    const auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) fail_input(label, "missing or non-object \"weight_map\"");
    std::set<std::string> unique;
    for (const auto& [tensor, shard] : wm->items()) {
      if (!shard.is_string())
        fail_input(label, "weight_map entry for " + in_quotes(tensor) + " is not a string");
      const auto& s = shard.get_ref<const std::string&>();
      if (!plain_file_name(s))
        fail_input(label, "weight_map entry for " + in_quotes(tensor) + " names shard " + in_quotes(s) +
                              ", which is not a plain file name inside the directory");
      weight_map[tensor] = s;
      unique.insert(s);
    }
    shard_names.assign(unique.begin(), unique.end());
    for (const auto& s : shard_names)
      if (!std::filesystem::exists(dir / s))
        fail_input((dir / s).string(), "shard listed in " + std::string(kIndexName) + " does not exist");
  } else if (std::filesystem::exists(single_path)) {
    shard_names.push_back(kSingleName);
  } else {
    fail_input(dir.string(), std::string("no ") + kSingleName + " or " + kIndexName + " in this directory");
  }

  std::map<std::string, std::string> owner;  // tensor -> file it was found in
  for (const auto& s : shard_names) {
    auto file = SafetensorsFile::open(dir / s);
    for (const auto& t : file->tensors()) {
      if (owner.count(t.name))
        fail_input(file->path(), "tensor " + in_quotes(t.name) + " is also in " + in_quotes(owner[t.name]));
      if (sharded) {
        const auto it = weight_map.find(t.name);
        if (it == weight_map.end())
          fail_input(file->path(), "tensor " + in_quotes(t.name) + " is not listed in " + kIndexName);
        if (it->second != s)
          fail_input(file->path(), "tensor " + in_quotes(t.name) + " is listed in " + kIndexName +
                                       " under shard " + in_quotes(it->second));
      }
      owner[t.name] = s;
      ws.by_name_[t.name] = &t;
    }
    ws.files_.push_back(std::move(file));
  }
  for (const auto& [tensor, shard] : weight_map)
    if (!owner.count(tensor))
      fail_input((dir / shard).string(), "tensor " + in_quotes(tensor) + " is listed in " + kIndexName +
                                             " but absent from this shard");
  return ws;
}

const TensorView* WeightSet::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& WeightSet::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (t == nullptr) fail_input(dir_.string(), "checkpoint has no tensor " + in_quotes(name));
  return *t;
}

std::vector<const TensorView*> WeightSet::all() const {
  std::vector<const TensorView*> out;
  out.reserve(by_name_.size());
  for (const auto& [name, t] : by_name_) out.push_back(t);
  return out;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::span<const uint8_t> bytes) {
  G4_CHECK(name != "__metadata__", "reserved tensor name");
  for (const auto& e : entries_) G4_CHECK(e.name != name, "duplicate tensor name " + name);
  uint64_t numel = 1;
  for (int64_t d : shape) {
    G4_CHECK(d >= 0, "negative dimension in " + name);
    G4_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel), "shape overflow in " + name);
  }
  G4_CHECK(bytes.size() == numel * dtype_size(dtype), "byte size does not match shape x dtype for " + name);
  entries_.push_back({name, dtype, std::move(shape), {bytes.begin(), bytes.end()}});
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape,
                                std::span<const float> values) {
  const auto* raw = reinterpret_cast<const uint8_t*>(values.data());
  add(name, DType::F32, std::move(shape), std::span<const uint8_t>(raw, values.size_bytes()));
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto& e : entries_) {
    header[e.name] = {{"dtype", std::string(dtype_name(e.dtype))},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // 8-byte aligned data section, as the reference writer pads
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail_input(tmp.string(), "cannot create: " + errno_text());
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& e : entries_)
      out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
    out.close();
    if (!out) fail_input(tmp.string(), "write failed: " + errno_text());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail_input(path.string(), "cannot rename " + tmp.string() + " into place: " + ec.message());
}

std::vector<float> to_f32(const TensorView& t) {
  const size_t n = static_cast<size_t>(t.numel());
  G4_CHECK(t.bytes.size() == n * dtype_size(t.dtype), "tensor view size mismatch for " + t.name);
  std::vector<float> out(n);
  // memcpy per element: data offsets need not be aligned to the element size.
  switch (t.dtype) {
    case DType::F32:
      if (n) std::memcpy(out.data(), t.bytes.data(), n * 4);
      break;
    case DType::BF16:
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, t.bytes.data() + 2 * i, 2);
        out[i] = t.dtype == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
      }
      break;
    default:
      fail_input("tensor " + in_quotes(t.name), "dtype " + std::string(dtype_name(t.dtype)) +
                                                    " cannot be widened to float (need BF16, F16 or F32)");
  }
  return out;
}

}  // namespace g4
