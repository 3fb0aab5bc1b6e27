// Events: the fields a compiled query reads, pulled out of a JSON document
// in one walk. Nested objects, dotted keys and mixes of both give the same
// paths; arrays (also arrays of objects) give every element's value.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

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

 private:
  struct Node {
    std::vector<std::pair<std::string, uint32_t>> children;  // sorted by length, then bytes
    int64_t slot = -1;
  };
  std::vector<Node> trie_{Node{}};
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::vector<std::string> paths_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> slots_;  // by path
};

// A slot's type and null_value in a schema, looked up once per stream
// rather than once per value.
struct SlotSchema {
  std::optional<FieldType> type;
  const Scalar* null_value = nullptr;
};
std::vector<SlotSchema> describe_slots(const FieldIndex& index, const Schema& schema);

// An event's values by FieldIndex slot, holding only the slots that have
// values: rule sets read thousands of fields, an event has a few dozen.
class FieldValues {
 public:
  using Entry = std::pair<uint32_t, Values>;

  // The values of a slot; empty when it has none.
  const Values& operator[](size_t slot) const {
    auto it =
        std::lower_bound(entries_.begin(), entries_.end(), slot,
                         [](const Entry& entry, size_t wanted) { return entry.first < wanted; });
    return it != entries_.end() && it->first == slot ? it->second : empty_values();
  }
  // The values of a slot, to add to.
  Values& at(uint32_t slot) {
    auto it =
        std::lower_bound(entries_.begin(), entries_.end(), slot,
                         [](const Entry& entry, uint32_t wanted) { return entry.first < wanted; });
    if (it == entries_.end() || it->first != slot) it = entries_.insert(it, {slot, Values{}});
    return it->second;
  }
  size_t size() const { return slots_; }  // the slots of the index
  void reset(size_t slots) {
    entries_.clear();
    slots_ = slots;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  // Keeps the slots `keep(slot)` says yes to.
  template <typename Keep>
  void retain(Keep keep) {
    std::erase_if(entries_, [&](const Entry& entry) { return !keep(entry.first); });
  }

 private:
  static const Values& empty_values() {
    static const Values empty;
    return empty;
  }
  std::vector<Entry> entries_;  // sorted by slot
  size_t slots_ = 0;
};

struct Event {
  // The document as read, for output: its own copy, or a view into an input
  // mapping that outlives the event.
  std::string_view source() const { return mapped_source.data() ? mapped_source : owned_source; }
  std::string owned_source;
  std::string_view mapped_source;
  FieldValues fields;     // by FieldIndex slot
  int64_t timestamp = 0;  // nanoseconds since the epoch
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
