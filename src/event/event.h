// Events: the fields a compiled query reads, pulled out of a JSON document
// in one walk. Nested objects, dotted keys and mixes of both give the same
// paths; arrays (also arrays of objects) give every element's value.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "event/document_spool.h"
#include "event/schema.h"
#include "event/value.h"

namespace pickaxe {

// The field paths a query reads, each with a slot number.
class FieldIndex {
 public:
  uint32_t add(const std::string& path);
  std::optional<uint32_t> slot(std::string_view path) const;
  size_t size() const { return paths_.size(); }
  const std::string& path(uint32_t slot) const { return paths_[slot]; }

  // The paths as a tree of their dotted parts, for walking documents: node 0
  // is the root; `child` follows a key (which may itself hold dots).
  std::optional<uint32_t> child(uint32_t node, std::string_view key) const;
  int64_t node_slot(uint32_t node) const { return trie_[node].slot; }
  size_t node_count() const { return trie_.size(); }
  // Different for every index and after every add(): what was learnt about
  // one version of an index holds for it as long as its version is the same.
  uint64_t version() const { return version_; }

 private:
  struct Node {
    std::vector<std::pair<std::string, uint32_t>> children;  // sorted by length, then bytes
    int64_t slot = -1;
  };
  std::vector<Node> trie_{Node{}};
  // (node, key part) -> child node, open addressing: the walk looks up every
  // key of every document here.
  struct Edge {
    uint64_t hash = 0;
    uint32_t node = 0, child = 0;
    std::string part;
    bool used = false;
  };
  static uint64_t edge_hash(uint32_t node, std::string_view part);
  void add_edge(uint32_t node, std::string_view part, uint32_t child);
  std::vector<Edge> edges_ = std::vector<Edge>(64);
  size_t edge_count_ = 0;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::vector<std::string> paths_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> slots_;  // by path
  static uint64_t next_version();
  uint64_t version_ = next_version();
};

// A slot's type and null_value in a schema, looked up once per stream
// rather than once per value.
struct SlotSchema {
  std::optional<FieldType> type;
  const Scalar* null_value = nullptr;
  const DateFormat* date_format = nullptr;  // date fields: how they are read
};
std::vector<SlotSchema> describe_slots(const FieldIndex& index, const Schema& schema);

// An event's values by FieldIndex slot, holding only the slots that have
// values: rule sets read thousands of fields, an event has a few dozen.
// Entries dropped by reset() or retain() are kept as spares, with their
// storage, for the next values: one FieldValues reused for event after
// event allocates little. A copy holds only the live entries.
//
// Filled by extraction (begin_fill/fill), entries are in document order and
// a slot is found through a table by slot, in constant time; they are put
// in slot order (for lookups by bisection) the first time anything needs
// that order or changes the entries otherwise.
class FieldValues {
 public:
  using Entry = std::pair<uint32_t, Values>;

  FieldValues() = default;
  FieldValues(const FieldValues& other) : used_(other.used_), slots_(other.slots_) {
    other.put_in_order();
    entries_.assign(other.entries_.begin(), other.entries_.begin() + static_cast<long>(used_));
  }
  FieldValues& operator=(const FieldValues& other) {
    if (this != &other) *this = FieldValues(other);
    return *this;
  }
  FieldValues(FieldValues&& other) noexcept { *this = std::move(other); }
  FieldValues& operator=(FieldValues&& other) noexcept {
    if (this == &other) return *this;
    entries_ = std::move(other.entries_);
    where_ = std::move(other.where_);
    used_ = std::exchange(other.used_, 0);
    slots_ = other.slots_;
    epoch_ = other.epoch_;
    indexed_ = std::exchange(other.indexed_, false);
    in_order_ = std::exchange(other.in_order_, true);
    other.entries_.clear();
    other.where_.clear();
    return *this;
  }

  // The values of a slot; empty when it has none. (A reference taken
  // before the entries are put in order may then name another slot's.)
  const Values& operator[](size_t slot) const {
    if (indexed_) {
      if (slot >= where_.size() || where_[slot].epoch != epoch_) return empty_values();
      return entries_[where_[slot].position].second;
    }
    put_in_order();
    auto end = entries_.begin() + static_cast<long>(used_);
    auto it = std::lower_bound(entries_.begin(), end, slot, [](const Entry& entry, size_t wanted) {
      return entry.first < wanted;
    });
    return it != end && it->first == slot ? it->second : empty_values();
  }
  // The values of a slot, to add to.
  Values& at(uint32_t slot) {
    put_in_order();
    indexed_ = false;
    auto end = entries_.begin() + static_cast<long>(used_);
    auto it =
        std::lower_bound(entries_.begin(), end, slot,
                         [](const Entry& entry, uint32_t wanted) { return entry.first < wanted; });
    if (it != end && it->first == slot) return it->second;
    size_t at = static_cast<size_t>(it - entries_.begin());
    if (used_ == entries_.size()) entries_.emplace_back();
    Entry& spare = entries_[used_];
    spare.first = slot;
    spare.second.clear();
    // Rotate the spare into its place: entries move, their storage does not.
    for (size_t i = used_; i > at; --i) std::swap(entries_[i], entries_[i - 1]);
    ++used_;
    return entries_[at].second;
  }

  // Filling, for extraction: begin_fill() empties the values (of an index of
  // `slots` slots); fill(slot) gives the next value of a slot to write over
  // (a spare's, whose strings keep their storage); clear_slot() drops a
  // slot's values; end_fill() lets go of the values not written over.
  void begin_fill(size_t slots) {
    used_ = 0;
    slots_ = static_cast<uint32_t>(slots);
    if (where_.size() < slots) where_.resize(slots);
    if (++epoch_ == 0) {  // wrapped: forget every mark
      for (Where& where : where_) where = Where{};
      epoch_ = 1;
    }
    indexed_ = true;
    in_order_ = true;
  }
  [[gnu::always_inline]] Scalar& fill(uint32_t slot) {
    Where& where = where_[slot];
    if (where.epoch != epoch_) {
      if (used_ == entries_.size()) entries_.emplace_back();
      if (used_ > 0 && slot < entries_[used_ - 1].first) in_order_ = false;
      entries_[used_].first = slot;
      where = Where{epoch_, used_++, 0};
    }
    Values& values = entries_[where.position].second;
    if (where.filled == values.size()) {
      values.emplace_back();
      return values[where.filled++];
    }
    Scalar& spare = values[where.filled++];
    let_go_of_long(spare);
    return spare;
  }
  void clear_slot(uint32_t slot) {
    if (slot < where_.size() && where_[slot].epoch == epoch_) where_[slot].filled = 0;
  }
  void end_fill() {
    for (size_t i = 0; i < used_; ++i) entries_[i].second.resize(where_[entries_[i].first].filled);
    // Spares left from longer events keep no long string either.
    for (size_t i = used_; i < entries_.size(); ++i)
      for (Scalar& spare : entries_[i].second) let_go_of_long(spare);
  }

  size_t size() const { return slots_; }  // the slots of the index
  void reset(size_t slots) {
    used_ = 0;
    slots_ = static_cast<uint32_t>(slots);
    indexed_ = false;
    in_order_ = true;
  }
  // The live entries, in slot order.
  std::span<const Entry> entries() const {
    put_in_order();
    return {entries_.data(), used_};
  }
  // The live entries in any order (as filled, if they were).
  std::span<const Entry> unordered_entries() const { return {entries_.data(), used_}; }
  // Bytes the live values hold, roughly (for memory budgets): a walk over
  // the entries, not the values.
  size_t memory() const {
    size_t bytes = entries_.capacity() * sizeof(Entry) + where_.capacity() * sizeof(Where);
    for (size_t i = 0; i < used_; ++i) bytes += entries_[i].second.capacity() * sizeof(Scalar);
    return bytes;
  }
  // Lets go of the spares' storage and of spare capacity.
  void shrink_to_fit() {
    if (used_ == entries_.size() && entries_.capacity() == used_ && where_.empty()) return;
    *this = FieldValues(*this);
  }
  // Keeps the slots `keep(slot)` says yes to.
  template <typename Keep>
  void retain(Keep keep) {
    size_t kept = 0;  // (relative order kept: in slot order if it was)
    for (size_t i = 0; i < used_; ++i) {
      if (!keep(entries_[i].first)) continue;
      if (i != kept) std::swap(entries_[kept], entries_[i]);
      ++kept;
    }
    used_ = static_cast<uint32_t>(kept);
    indexed_ = false;
  }

 private:
  static const Values& empty_values() {
    static const Values empty;
    return empty;
  }
  // A spare value keeps a string's storage up to this size: enough for most
  // values, and a bound on what spares hold whatever the input.
  static constexpr size_t kSpareStringBytes = 256;
  static void let_go_of_long(Scalar& spare) {
    if (spare.string.capacity() > kSpareStringBytes) std::string().swap(spare.string);
  }
  // Sorts the live entries by slot, once after filling out of order. Const
  // readers may sort: a filled FieldValues belongs to one thread (a
  // worker's scratch event); events shared between threads are built by
  // at(), in order, and never sort here.
  void put_in_order() const {
    if (in_order_) return;
    std::sort(entries_.begin(), entries_.begin() + static_cast<long>(used_),
              [](const Entry& a, const Entry& b) { return a.first < b.first; });
    in_order_ = true;
    indexed_ = false;
  }
  struct Where {
    uint32_t epoch = 0;     // the filling it belongs to
    uint32_t position = 0;  // its entry
    uint32_t filled = 0;    // values written
  };
  // The first used_ are live (in slot order unless in_order_ is false), then
  // spares. Mutable: put in order when read in order.
  mutable std::vector<Entry> entries_;
  std::vector<Where> where_;  // by slot, while indexed_
  uint32_t used_ = 0;         // 32 bits each: events held in state stay small
  uint32_t slots_ = 0;
  uint32_t epoch_ = 0;
  mutable bool indexed_ = false;
  mutable bool in_order_ = true;
};

struct Event {
  // The document as read, for output: its own copy, or a view into an input
  // mapping that outlives the event. Empty once spooled (see document()).
  std::string_view source() const { return mapped_source.data() ? mapped_source : owned_source; }
  // The document wherever it is: in memory, mapped, or spooled to disk.
  std::string document() const {
    std::string text;
    if (spooled && spooled.read(text)) return text;
    return std::string(source());
  }
  std::string owned_source;
  std::string_view mapped_source;
  SpooledDocument spooled;  // where owned_source went, for an event held for long
  FieldValues fields;       // by FieldIndex slot
  int64_t timestamp = 0;    // nanoseconds since the epoch
  bool has_timestamp = false;
  uint64_t order = 0;  // position in the input
  uint64_t line = 0;   // line in its file (1-based), or array index + 1
};

// Fills event.fields from a parsed document, converting values to the mapped
// type where Elasticsearch would (numbers in keyword fields become strings,
// numeric strings in long fields become numbers) and applying null_value.
void extract_fields(simdjson::dom::element document, const FieldIndex& index, const Schema& schema,
                    Event& event);
// The same with the slots' schema described beforehand (describe_slots).
void extract_fields(simdjson::dom::element document, const FieldIndex& index,
                    const std::vector<SlotSchema>& slots, Event& event);

}  // namespace pickaxe
