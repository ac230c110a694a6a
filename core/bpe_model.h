// The parts of a byte-fallback BPE tokenizer that run per call, kept apart from JSON loading
// (core/tokenizer_bpe.cpp) so each stays small:
//   PairMap           - (left id, right id) -> merge rank, open addressing, no per-lookup allocation.
//   AddedTokenMatcher - byte trie over added-token contents; leftmost-longest like transformers.js's
//                       DictionarySplitter (the reference the corpus expectations come from).
//   MergeModel        - BPE over one segment of text: characters are the initial symbols, the pair with
//                       the lowest (rank, leftmost position) merges first (transformers.js orders its
//                       heap by rank + position / length), characters outside the vocabulary become
//                       <0xNN> byte pieces.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace g4::bpe {

class PairMap {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  void reserve(std::size_t count);
  // Overwrites an existing pair: transformers.js builds its rank map from the merge list in order, so a
  // repeated pair keeps its last rank.
  void insert(int32_t left, int32_t right, uint32_t rank);
  uint32_t find(int32_t left, int32_t right) const {
    const uint64_t key = pack(left, right);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return slots_[i].rank;
      if (slots_[i].key == kEmpty) return kNone;
    }
  }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = kNone;
  };
  static uint64_t pack(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  std::size_t slot_of(uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
};

class AddedTokenMatcher {
 public:
  struct Match {
    std::size_t length = 0;  // 0: no added token starts here
    int32_t id = -1;
  };
  void add(std::string_view content, int32_t id, bool special);
  bool may_start(unsigned char byte) const { return first_byte_[byte]; }
  // The longest added token starting at text[pos]; special ones count only when allow_special.
  Match longest_at(std::string_view text, std::size_t pos, bool allow_special) const;

 private:
  struct Node {
    int32_t id = -1;
    bool special = false;
  };
  std::vector<Node> nodes_{Node{}};
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
  std::array<bool, 256> first_byte_{};
};

struct MergeRule {
  int32_t left, right, merged;
};

struct MergeModel {
  std::vector<int32_t> char_ids;  // code point -> id of its one-character piece, -1 if none
  std::vector<MergeRule> rules;   // by rank
  PairMap ranks;
  std::array<int32_t, 256> byte_ids{};  // <0xNN> piece ids, -1 where absent
  bool byte_fallback = false;
  bool fuse_unk = false;
  int32_t unk_id = -1;
  // Normalizer Replace of one code point by another (" " -> "▁" for Gemma); 0 when there is none.
  char32_t replace_from = 0, replace_to = 0;
  // Word splitting, an exact shortcut: a segment may be cut before a "▁" whose left neighbour c is not
  // "▁" when no merge joins a left piece ending in c to a right piece starting with "▁" (then no merge
  // can ever cross the cut, and merges on either side do not affect each other). Gemma has exactly one
  // such c, ">" (the merge ">" + "▁</"). Words then repeat, so their ids are cached.
  static constexpr char32_t kWordStart = 0x2581;  // ▁
  std::vector<char32_t> no_cut_after;             // sorted: the c above
  uint64_t instance = 0;                          // tells per-thread word caches apart

  // Call once the rules are loaded: fills no_cut_after and instance. pieces: id -> text.
  void finish(const std::vector<std::string>& pieces);
  // Appends the ids of text (valid UTF-8, no added tokens inside) to out.
  void encode_segment(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
};

}  // namespace g4::bpe
