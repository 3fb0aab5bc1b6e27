// Events: the fields a compiled query reads, pulled out of a JSON document
// in one walk. Nested objects, dotted keys and mixes of both give the same
// paths; arrays (also arrays of objects) give every element's value.
#pragma once

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
  bool is_prefix(std::string_view path) const { return prefixes_.contains(std::string(path)); }
  size_t size() const { return paths_.size(); }
  const std::string& path(uint32_t slot) const { return paths_[slot]; }

 private:
  std::vector<std::string> paths_;
  std::unordered_map<std::string, uint32_t> slots_;
  std::unordered_set<std::string> prefixes_;
};

struct Event {
  std::string source;          // the document as read, for output
  std::vector<Values> fields;  // by FieldIndex slot
  int64_t timestamp = 0;       // nanoseconds since the epoch
  bool has_timestamp = false;
  uint64_t order = 0;  // position in the input
  uint64_t line = 0;   // line in its file (1-based), or array index + 1
};

// Fills event.fields from a parsed document, converting values to the mapped
// type where Elasticsearch would (numbers in keyword fields become strings,
// numeric strings in long fields become numbers) and applying null_value.
void extract_fields(simdjson::dom::element document, const FieldIndex& index, const Schema& schema,
                    Event& event);

}  // namespace pickaxe
