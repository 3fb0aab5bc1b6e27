// How events are split over partitions, and which rules stay exact when
// they are: a sequence, sample or correlation sees all its events only if
// they share a partition.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "rules/rule.h"

namespace pickaxe::fleet {

// The partition key: the first of these fields an event holds.
std::vector<std::string> default_partition_key();

// The partitioning producers and workers agree on (kept in the fleet's KV
// bucket by the first producer).
struct Layout {
  uint32_t partitions = 16;
  std::vector<std::string> key = default_partition_key();

  std::string encode() const;  // "16 host.id,host.name,..."
  static std::optional<Layout> decode(std::string_view text);
  bool operator==(const Layout&) const = default;
};

// The key's value in an ECS document (nested objects or dotted names),
// with the field it came from; nullopt when it holds none of the fields.
struct KeyValue {
  std::string field;
  std::string value;
};
std::optional<KeyValue> partition_key_of(simdjson::dom::element document,
                                         const std::vector<std::string>& key);

// A stable hash (FNV-1a, 64 bits) of the value, modulo the partitions.
uint32_t partition_of(std::string_view value, uint32_t partitions);

// Whether a rule gives the same alerts partitioned as over the whole
// input; when not, why.
struct Exactness {
  bool exact = true;
  std::string reason;  // empty when exact
};
// `suppress_by`: hunt's --suppress-by fields (suppression groups must not
// span partitions either).
Exactness partition_exactness(const Rule& rule, const std::vector<std::string>& key,
                              const std::vector<std::string>& suppress_by);

}  // namespace pickaxe::fleet
