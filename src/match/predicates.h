// The rule set's predicates, grouped by field: every comparison of a field
// with string constants (==, !=, in, `:`, like) in every filter of every
// query becomes one predicate, identical ones shared, and each field's
// predicates are decided together: one hash lookup per value for the exact
// strings, one Vectorscan scan per value for the wildcards. Filters then read
// a predicate's answer instead of matching its strings themselves, and skip
// an event at once when their anchor (a required predicate) did not fire.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "event/event.h"
#include "match/expression.h"
#include "match/wildcard_set.h"

namespace pickaxe {

class PredicateProgram {
 public:
  PredicateProgram();
  ~PredicateProgram();
  PredicateProgram(const PredicateProgram&) = delete;
  PredicateProgram& operator=(const PredicateProgram&) = delete;

  // Gives the filter's groupable leaves their predicate ids and chooses its
  // anchor. Call for every filter, then build().
  void add(CompiledFilter& filter, const FieldIndex& fields);
  // Builds each field's matchers; the program is immutable from then on.
  void build();

  size_t predicate_count() const { return predicates_.size(); }
  size_t field_count() const { return groups_.size(); }
  size_t anchored_filters() const { return anchored_; }
  uint32_t field_group(uint32_t predicate) const { return predicates_[predicate]; }

 private:
  friend class PredicatePass;
  struct Group {
    uint32_t slot = 0;
    // Exact strings, and case-folded ones, to the predicates they fire.
    std::unordered_map<std::string, std::vector<uint32_t>> exact, folded;
    // Wildcard patterns (ids into `wildcard_predicates`).
    std::vector<std::string> patterns;
    std::vector<bool> caseless;
    std::vector<std::vector<uint32_t>> wildcard_predicates;
    std::unique_ptr<FactoredWildcards> wildcards;
  };
  uint32_t predicate_for(Node& leaf);
  Group& group_for(uint32_t slot);

  std::vector<uint32_t> predicates_;                  // per predicate: its group
  std::unordered_map<std::string, uint32_t> by_key_;  // identical leaves share one predicate
  std::vector<Group> groups_;
  std::unordered_map<uint32_t, uint32_t> group_by_slot_;
  size_t anchored_ = 0;
};

// One thread's answers for the event it is looking at: each field group is
// decided the first time one of its predicates is asked for.
class PredicatePass {
 public:
  explicit PredicatePass(const PredicateProgram& program);
  // Starts on a new event; answers for the previous one are forgotten.
  void begin(const Event& event);
  const Event* event() const { return event_; }
  bool fired(uint32_t predicate);

 private:
  void decide(uint32_t group);
  const PredicateProgram& program_;
  const Event* event_ = nullptr;
  uint32_t epoch_ = 0;
  std::vector<uint32_t> decided_;  // per group: the epoch it was decided in
  std::vector<uint32_t> fired_;    // per predicate: the epoch it fired in
  std::vector<uint32_t> matches_;  // scratch for wildcard ids
  std::string folded_;
};

// While one of these lives, filters evaluated on its event on this thread
// read the pass's answers (other events are evaluated as usual).
class ScopedPredicates {
 public:
  ScopedPredicates(PredicatePass& pass, const Event& event);
  ~ScopedPredicates();
  ScopedPredicates(const ScopedPredicates&) = delete;
  ScopedPredicates& operator=(const ScopedPredicates&) = delete;

 private:
  PredicatePass* previous_;
};

// The pass installed for `event` on this thread, if any.
PredicatePass* predicates_for(const Event& event);

}  // namespace pickaxe
