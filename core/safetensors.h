// safetensors read (mmap, zero-copy; one file or shards listed in model.safetensors.index.json) and write.
// Validation follows the format's reference implementation (docs/formats.md): 8-byte little-endian header
// length <= 100,000,000; header a JSON object of {name: {dtype, shape, data_offsets}} plus optional
// "__metadata__" (string -> string); known dtype names; byte ranges sorted, contiguous, without holes or
// overlaps, each exactly elements x dtype size (checked for overflow), the last ending at the end of the
// file. Every violation is an InputError naming the file and the tensor.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace g4 {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  // Points into the mmap; valid while the owning file lives. Not necessarily aligned to the element size
  // (offsets are only byte offsets): read elements with memcpy, as to_f32 does.
  std::span<const uint8_t> bytes;
  int64_t numel() const;
};

// One mapped .safetensors file.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Parses an in-memory image (the fuzzer uses this; `label` names it in errors). Copies nothing:
  // `data` must outlive the object.
  static std::shared_ptr<SafetensorsFile> parse(std::span<const uint8_t> data, const std::string& label);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in file order
  const TensorView* find(const std::string& name) const;               // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, const TensorView*> by_name_;  // built after tensors_ is final
  std::map<std::string, std::string> metadata_;
  void index();
};

// All weights of a checkpoint directory: model.safetensors, or the shards named by
// model.safetensors.index.json (weight_map: tensor -> shard file). A tensor listed in the index must be in
// its shard and nowhere else; a duplicate name across files, or a shard tensor the index does not list, is an
// error. Shard names must be plain file names inside `dir` (no "../", no absolute paths).
class WeightSet {
 public:
  static WeightSet open_dir(const std::filesystem::path& dir);
  const TensorView* find(const std::string& name) const;
  const TensorView& get(const std::string& name) const;  // InputError naming the checkpoint if absent
  std::vector<const TensorView*> all() const;            // sorted by name
  const std::filesystem::path& dir() const { return dir_; }
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> by_name_;
};

// Writes tensors in the order added, 8-byte aligned data section (header padded with spaces, as the
// reference writer does), optional __metadata__. Bytes are copied at add() time.
class SafetensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, std::span<const uint8_t> bytes);
  void add_f32(const std::string& name, std::vector<int64_t> shape, std::span<const float> values);
  void set_metadata(const std::string& key, const std::string& value);
  void write(const std::filesystem::path& path) const;  // writes to path.tmp then renames

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Widens a BF16/F16/F32 tensor to float (InputError naming the tensor for other dtypes).
std::vector<float> to_f32(const TensorView& t);

}  // namespace g4
