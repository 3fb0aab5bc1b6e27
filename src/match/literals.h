// What an event's raw text must contain: from a compiled filter, the
// literals one of which must occur in the JSON text of any event the filter
// matches, and the rule set's prefilter built from them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingest/prefilter.h"
#include "match/expression.h"

namespace pickaxe {

struct Literal {
  std::string text;
  // A text of digits, signs, dots and exponents: a JSON number can carry it in
  // another form (3.333e3), so numbers written that way under `key` are hits too.
  bool numeric = false;
  std::string key;   // the last part of the field's path, for numeric literals
  int strength = 0;  // how rarely it should occur: 0 for ECS vocabulary
};

// The literals one of which any event the filter matches contains in its
// JSON text; none when the filter can match without any (`not`, regex, ranges).
// With `slots` (describe_slots), fields with a mapping's null_value give no
// literal: extraction writes that value where the JSON has null.
std::optional<std::vector<Literal>> required_literals(
    const CompiledFilter& filter, const FieldIndex& fields,
    const std::vector<SlotSchema>* slots = nullptr);
// All such sets: one for the category and one for each term of the filter's
// top-level `and` that has literals. The rarest is required_literals.
std::vector<std::vector<Literal>> literal_clauses(const CompiledFilter& filter,
                                                  const FieldIndex& fields,
                                                  const std::vector<SlotSchema>* slots = nullptr);

// A prefilter over groups of filters (one group per query). A group has
// literals when each of its filters has; without literals it is a
// candidate for every line. Null when no group has literals.
// With `detect_sources`, records of other sources (CloudTrail, Docker,
// Sysmon JSON) and wrappers (Records, hits) are hits: their values are not ECS.
std::shared_ptr<const Prefilter> build_prefilter(
    const std::vector<std::vector<const CompiledFilter*>>& groups, const FieldIndex& fields,
    bool detect_sources, const std::vector<SlotSchema>* slots = nullptr);

}  // namespace pickaxe
