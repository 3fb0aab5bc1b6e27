// The rule set's predicates, grouped by field: every comparison of a field
// with string constants (==, !=, in, `:`, like) in every filter of every
// query becomes one predicate, identical ones shared, and each field's
// predicates are decided together: one hash lookup per value for the exact
// strings, one Vectorscan scan per value for the wildcards. Filters then read
// a predicate's answer instead of matching its strings themselves, and skip
// an event at once when their anchor (a required predicate) did not fire.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "event/event.h"
#include "event/patterns.h"
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
  // Compiles the fields' wildcard databases now (they are compiled at first
  // use otherwise): threads sharing one `next` compile different fields.
  void prepare(std::atomic<size_t>& next) const;

  size_t predicate_count() const { return predicates_.size(); }
  size_t field_count() const { return groups_.size(); }
  size_t anchored_filters() const { return anchored_; }
  uint32_t field_group(uint32_t predicate) const { return predicates_[predicate]; }
  uint32_t group_slot(uint32_t group) const { return groups_[group].slot; }

 private:
  friend class PredicatePass;
  struct IpTest {
    uint32_t predicate = 0;
    std::optional<IpAddress> equal;  // ==, != (else: cidrs)
    std::string text;                // the address as written, for values that are none
    bool insensitive = false;
    CidrTable cidrs;
  };
  struct RegexTest {
    uint32_t predicate = 0;
    std::vector<std::unique_ptr<RE2>> regexes;
  };
  struct Group {
    uint32_t slot = 0;
    // Exact strings, and case-folded ones, to the predicates they fire.
    std::unordered_map<std::string, std::vector<uint32_t>> exact, folded;
    // Wildcard patterns (ids into `wildcard_predicates`).
    std::vector<std::string> patterns;
    std::vector<bool> caseless;
    std::vector<std::vector<uint32_t>> wildcard_predicates;
    std::unique_ptr<FactoredWildcards> wildcards;
    // Numbers (== and in) to the predicate each fires.
    std::vector<std::pair<Scalar, uint32_t>> numbers;
    // IP fields: an address equal to one, or in a set of CIDRs (cidrMatch).
    std::vector<IpTest> ip_tests;
    // Regular expressions, any of which fires the predicate.
    std::vector<RegexTest> regex_tests;
  };
  // Gives the leaf its predicate (shared with identical leaves); none when
  // the leaf is not one the program decides.
  std::optional<uint32_t> predicate_for(Node& leaf);
  struct Anchor {
    std::vector<uint32_t> predicates;
    int score = 0;
  };
  std::optional<Anchor> anchor_of(const Node& node, const FieldIndex& fields) const;
  int leaf_score(const Node& leaf, const FieldIndex& fields) const;
  Group& group_for(uint32_t slot);

  std::vector<uint32_t> predicates_;                  // per predicate: its group
  std::unordered_map<std::string, uint32_t> by_key_;  // identical leaves share one predicate
  std::vector<Group> groups_;
  std::vector<uint32_t> by_compile_cost_;  // groups with wildcards, the most literals first
  std::unordered_map<uint32_t, uint32_t> group_by_slot_;
  size_t anchored_ = 0;
};

// One thread's answers for the event it is looking at: each field group is
// decided the first time one of its predicates is asked for. Values recur
// (process names, actions, paths), so what each value of a group fires is
// remembered, up to a memory budget: a recurring value costs one lookup.
class PredicatePass {
 public:
  // `memory_budget`: bytes of remembered values (estimated), past which all
  // are forgotten; 0: nothing is remembered.
  static constexpr size_t kMemoryBudget = size_t{4} << 20;
  explicit PredicatePass(const PredicateProgram& program, size_t memory_budget = kMemoryBudget);
  // Starts on a new event; answers for the previous one are forgotten.
  void begin(const Event& event);
  const Event* event() const { return event_; }
  bool fired(uint32_t predicate);
  // Bytes that remembered values hold (values, their table and answers).
  size_t remembered_bytes() const {
    return seen_values_.capacity() + seen_.capacity() * sizeof(Remembered) +
           pool_.capacity() * sizeof(uint32_t);
  }
  // A leaf's answer: fired, or not, or null (its field has no non-null value).
  enum class Answer : uint8_t { Fired, NotFired, NoValue };
  Answer answer(uint32_t predicate) { return answer(predicate, program_.predicates_[predicate]); }
  // The same, for a predicate of `group`.
  Answer answer(uint32_t predicate, uint32_t group) {
    const GroupMarks& marks = groups_[group];
    if (marks.decided != epoch_) decide(group);
    if (fired_[predicate] == epoch_) return Answer::Fired;
    return marks.present == epoch_ ? Answer::NotFired : Answer::NoValue;
  }
  // The predicates of `group` that fire on the event (deciding it if need be).
  std::span<const uint32_t> fired_in(uint32_t group);
  // Whether the condition of `filter`, a filter of the program, holds for
  // the pass's event (as holds() says), read from the pass's answers.
  bool holds(const CompiledFilter& filter) {
    if (filter.code.steps.empty())
      return !filter.condition || pickaxe::holds(*filter.condition, *event_);
    size_t at = 0;
    return run(filter.code, at);
  }

 private:
  void decide(uint32_t group);
  // Runs the step at `at` and its subtrees; `at` ends past them.
  bool run(const FilterCode& code, size_t& at) {
    const FilterCode::Step& step = code.steps[at++];
    switch (step.op) {
      case FilterCode::Op::Predicate:
        return static_cast<uint8_t>(answer(step.arg, step.group)) == step.want;
      case FilterCode::Op::Test:
        return static_cast<uint8_t>(test(*code.tests[step.arg], *event_)) == step.want;
      case FilterCode::Op::All:
        for (uint16_t i = 0; i < step.count; ++i) {
          if (run(code, at)) continue;
          at = step.arg;
          return false;
        }
        return true;
      case FilterCode::Op::Any:
        for (uint16_t i = 0; i < step.count; ++i) {
          if (!run(code, at)) continue;
          at = step.arg;
          return true;
        }
        return false;
    }
    return false;
  }
  // Records that the predicate fired on this event (once).
  void mark_fired(uint32_t predicate) {
    if (fired_[predicate] == epoch_) return;
    fired_[predicate] = epoch_;
    event_fired_.push_back(predicate);
  }
  // The predicates `value` fires in `group`, appended to pool_.
  void compute(const PredicateProgram::Group& group, const std::string& value);
  void forget_values();
  const PredicateProgram& program_;
  const Event* event_ = nullptr;
  uint32_t epoch_ = 0;
  struct GroupMarks {
    uint32_t decided = 0;  // the epoch the group was decided in
    uint32_t present = 0;  // the epoch it had a non-null value in
  };
  std::vector<GroupMarks> groups_;
  std::vector<uint32_t> fired_;        // per predicate: the epoch it fired in
  std::vector<uint32_t> event_fired_;  // the predicates fired on this event, by group
  std::vector<std::pair<uint32_t, uint32_t>> group_fired_;  // per group: its range in event_fired_
  std::vector<uint32_t> matches_;                           // scratch for wildcard ids
  std::string folded_;
  // What each value fired, by (group, value): open addressing, the values'
  // bytes in seen_values_ and their predicates in pool_.
  struct Remembered {
    uint64_t hash = 0;  // 0: empty
    uint32_t group = 0;
    uint32_t value_begin = 0, value_size = 0;  // in seen_values_
    uint32_t begin = 0, end = 0;               // in pool_
  };
  static uint64_t hash_of(uint32_t group, std::string_view value);
  // The place of (group, value) in seen_: its entry, or the empty place it would take.
  size_t find_seen(uint64_t hash, uint32_t group, std::string_view value) const;
  void remember(uint64_t hash, uint32_t group, std::string_view value, uint32_t begin,
                uint32_t end);
  std::vector<Remembered> seen_ = std::vector<Remembered>(kFirstSeenSize);
  size_t seen_count_ = 0;
  std::string seen_values_;
  std::vector<uint32_t> pool_;
  static constexpr size_t kFirstSeenSize = 1024;
  size_t seen_budget_;
  static constexpr size_t kLongestSeen = 256;  // longer values are decided each time
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

// The pass installed on this thread (by ScopedPredicates), if any.
extern constinit thread_local PredicatePass* installed_predicates;

// The pass installed for `event` on this thread, if any.
inline PredicatePass* predicates_for(const Event& event) {
  PredicatePass* pass = installed_predicates;
  return pass && pass->event() == &event ? pass : nullptr;
}

}  // namespace pickaxe
