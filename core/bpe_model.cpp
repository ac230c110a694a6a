#include "core/bpe_model.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <string>

#include "core/utf8.h"

namespace g4::bpe {

void PairMap::reserve(std::size_t count) {
  // Load factor <= 1/2 keeps linear-probe chains short.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, count * 2));
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  shift_ = 64 - std::countr_zero(capacity);
}

void PairMap::insert(int32_t left, int32_t right, uint32_t rank) {
  const uint64_t key = pack(left, right);
  for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
    if (slots_[i].key == key || slots_[i].key == kEmpty) {
      slots_[i] = Slot{key, rank};
      return;
    }
  }
}

void AddedTokenMatcher::add(std::string_view content, int32_t id, bool special) {
  if (content.empty()) return;
  first_byte_[static_cast<unsigned char>(content[0])] = true;
  int32_t node = 0;
  for (const char c : content) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
    auto [it, inserted] = edges_.try_emplace(key, static_cast<int32_t>(nodes_.size()));
    if (inserted) nodes_.emplace_back();
    node = it->second;
  }
  nodes_[node] = Node{id, special};
}

AddedTokenMatcher::Match AddedTokenMatcher::longest_at(std::string_view text, std::size_t pos,
                                                       bool allow_special) const {
  Match best;
  int32_t node = 0;
  for (std::size_t j = pos; j < text.size(); ++j) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[j]);
    const auto it = edges_.find(key);
    if (it == edges_.end()) break;
    node = it->second;
    const Node& n = nodes_[node];
    if (n.id >= 0 && (allow_special || !n.special)) best = Match{j + 1 - pos, n.id};
  }
  return best;
}

namespace {

struct Symbol {
  int32_t id;  // -1: character outside the vocabulary (byte fallback); -2: merged into its left neighbour
  int32_t prev, next;
  char32_t cp;
};

// Heap entry: key = rank << 32 | left symbol index, so the smallest key is the lowest rank and, among
// equal ranks, the leftmost pair. The left index never changes when a symbol absorbs its right
// neighbour, so it is the original position of the merged piece's first character.
struct Candidate {
  uint64_t key;
  int32_t right;
};

struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

bool later(const Candidate& a, const Candidate& b) { return a.key > b.key; }

void push_candidate(const MergeModel& m, Scratch& s, int32_t left) {
  const int32_t right = s.symbols[left].next;
  if (right < 0) return;
  const int32_t a = s.symbols[left].id, b = s.symbols[right].id;
  if (a < 0 || b < 0) return;
  const uint32_t rank = m.ranks.find(a, b);
  if (rank == PairMap::kNone) return;
  s.heap.push_back(Candidate{(static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(left), right});
  std::push_heap(s.heap.begin(), s.heap.end(), later);
}

void emit_unknown(const MergeModel& m, char32_t cp, std::vector<int32_t>& out) {
  if (m.byte_fallback) {
    std::string bytes;
    utf8::append(bytes, cp);
    bool all_present = true;
    for (const char c : bytes) all_present = all_present && m.byte_ids[static_cast<unsigned char>(c)] >= 0;
    if (all_present) {
      for (const char c : bytes) out.push_back(m.byte_ids[static_cast<unsigned char>(c)]);
      return;
    }
  }
  out.push_back(m.unk_id);
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct WordCache {
  static constexpr std::size_t kMaxEntries = 1 << 16;
  static constexpr std::size_t kMaxWordBytes = 64;
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> ids;
};

std::atomic<uint64_t> next_instance{1};

}  // namespace

void MergeModel::finish(const std::vector<std::string>& pieces) {
  instance = next_instance.fetch_add(1);
  no_cut_after.clear();
  for (const MergeRule& r : rules) {
    const std::string& left = pieces[r.left];
    const std::string& right = pieces[r.right];
    std::size_t pos = 0;
    if (right.empty() || left.empty() || utf8::next(right, pos) != kWordStart) continue;
    // The last code point of left: step back over continuation bytes.
    std::size_t last = left.size() - 1;
    while (last > 0 && (static_cast<unsigned char>(left[last]) & 0xC0) == 0x80) --last;
    no_cut_after.push_back(utf8::next(left, last));
  }
  std::sort(no_cut_after.begin(), no_cut_after.end());
  no_cut_after.erase(std::unique(no_cut_after.begin(), no_cut_after.end()), no_cut_after.end());
}

void MergeModel::encode_segment(std::string_view text, std::vector<int32_t>& out) const {
  thread_local WordCache cache;
  thread_local std::vector<int32_t> word_ids;
  if (cache.owner != instance) {
    cache.ids.clear();
    cache.owner = instance;
  }
  const std::size_t segment_start = out.size();
  auto append = [&](std::string_view word) {
    if (word.empty()) return;
    const std::vector<int32_t>* ids = nullptr;
    if (const auto it = cache.ids.find(word); it != cache.ids.end()) {
      ids = &it->second;
    } else {
      word_ids.clear();
      encode_word(word, word_ids);
      ids = &word_ids;
      if (word.size() <= WordCache::kMaxWordBytes) {
        if (cache.ids.size() >= WordCache::kMaxEntries) cache.ids.clear();
        cache.ids.emplace(std::string(word), word_ids);
      }
    }
    for (const int32_t id : *ids) {
      // fuse_unk: a run of <unk> within one segment becomes one.
      if (fuse_unk && id == unk_id && out.size() > segment_start && out.back() == unk_id) continue;
      out.push_back(id);
    }
  };
  std::size_t word_start = 0;
  char32_t prev = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    char32_t cp = utf8::next(text, pos);
    if (cp == replace_from && replace_from != 0) cp = replace_to;
    if (cp == kWordStart && start > word_start && prev != kWordStart &&
        !std::binary_search(no_cut_after.begin(), no_cut_after.end(), prev)) {
      append(text.substr(word_start, start - word_start));
      word_start = start;
    }
    prev = cp;
  }
  append(text.substr(word_start));
}

void MergeModel::encode_word(std::string_view text, std::vector<int32_t>& out) const {
  thread_local Scratch s;
  s.symbols.clear();
  s.heap.clear();
  for (std::size_t pos = 0; pos < text.size();) {
    char32_t cp = utf8::next(text, pos);
    if (cp == replace_from && replace_from != 0) cp = replace_to;
    const auto n = static_cast<int32_t>(s.symbols.size());
    s.symbols.push_back(Symbol{cp < char_ids.size() ? char_ids[cp] : -1, n - 1, -1, cp});
    if (n > 0) s.symbols[n - 1].next = n;
  }
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(s.symbols.size()); ++i) push_candidate(*this, s, i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), later);
    const Candidate c = s.heap.back();
    s.heap.pop_back();
    const auto rank = static_cast<uint32_t>(c.key >> 32);
    const auto left = static_cast<int32_t>(c.key & 0xFFFFFFFFu);
    const MergeRule& rule = rules[rank];
    Symbol& l = s.symbols[left];
    // Stale entries (a side already merged into something else) no longer match the rule's ids.
    if (l.id != rule.left || l.next != c.right || s.symbols[c.right].id != rule.right) continue;
    Symbol& r = s.symbols[c.right];
    l.id = rule.merged;
    l.next = r.next;
    if (r.next >= 0) s.symbols[r.next].prev = left;
    r.id = -2;
    if (l.prev >= 0) push_candidate(*this, s, l.prev);
    push_candidate(*this, s, left);
  }

  for (int32_t i = 0; i >= 0; i = s.symbols[i].next) {
    if (s.symbols[i].id >= 0) {
      out.push_back(s.symbols[i].id);
    } else {
      emit_unknown(*this, s.symbols[i].cp, out);
    }
  }
}

}  // namespace g4::bpe
