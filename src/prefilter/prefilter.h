// The prefilter: from each query filter, the literals of which at least one
// must occur in an event's raw JSON text for the filter to match it. One
// Vectorscan database scans whole input blocks for all of them; lines with
// no hit are never parsed, and the results are exactly those of full parsing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "match/expression.h"

struct hs_database;
struct hs_scratch;

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

// The literals found on one line: their ids, and whether a trigger (an
// escape, a number in another spelling, another source's record) hit, which
// makes every literal possible.
struct LineHits {
  std::vector<uint32_t> literals;
  bool any_possible = false;
};

class Prefilter {
 public:
  // A prefilter over groups of filters (one group per query). A group has
  // literals when each of its filters has; without literals it is a
  // candidate for every line. Null when no group has literals.
  // With `detect_sources`, records of other sources (CloudTrail, Docker,
  // Sysmon JSON) and wrappers (Records, hits) are hits: their values are not ECS.
  static std::shared_ptr<const Prefilter> build(
      const std::vector<std::vector<const CompiledFilter*>>& groups, const FieldIndex& fields,
      bool detect_sources, const std::vector<SlotSchema>* slots = nullptr);
  ~Prefilter();
  Prefilter(const Prefilter&) = delete;
  Prefilter& operator=(const Prefilter&) = delete;

  const std::vector<std::string>& literals() const { return literals_; }
  // Per group, per filter: literal-id clauses, every one of which must have
  // a hit on a line for the filter to match it; no clause: no constraint.
  // When lines are skipped, each filter has one clause, its rarest set; when
  // they are not (some filter has no literals), every clause it has, which
  // chooses engines more sharply.
  using Clauses = std::vector<std::vector<uint32_t>>;
  const std::vector<Clauses>& group_filters(size_t group) const { return group_filters_[group]; }
  // Every filter has literals: a line with no hit can be skipped unparsed.
  bool skips_lines() const { return skips_lines_; }

  // Scans text for hits, with its own scratch space (one per reader).
  class Scanner {
   public:
    explicit Scanner(const Prefilter& prefilter);
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;
    // The hits in `text`, each with the end of its line ('\n', or
    // text.size() for the last line), ordered by line end. A trigger hit
    // has the id kTrigger. False when the scan failed.
    static constexpr uint32_t kTrigger = UINT32_MAX;
    struct Hit {
      size_t line_end;
      uint32_t id;
    };
    bool scan(std::string_view text, std::vector<Hit>& hits);

   private:
    const Prefilter& prefilter_;
    hs_scratch* scratch_ = nullptr;
  };

 private:
  Prefilter() = default;
  hs_database* database_ = nullptr;
  std::vector<std::string> literals_;
  std::vector<std::vector<Clauses>> group_filters_;
  bool skips_lines_ = false;
};

}  // namespace pickaxe
