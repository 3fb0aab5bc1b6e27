// Sigma correlations over the results of other rules, in event order:
// event_count and value_count per group within a timespan, temporal (all
// rules within the timespan, any order) and temporal_ordered (in the rules'
// order, as an EQL sequence does). Results of the correlated rules come in
// as hits; a correlation's own results can feed another correlation.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "correlate/engine.h"
#include "rules/rule.h"

namespace pickaxe {

struct CorrelationHit {
  std::vector<EventPtr> events;  // in time order
  int64_t time = 0;              // the last event's
};

struct CorrelationResult {
  std::vector<EventPtr> events;    // in time order
  std::vector<std::string> group;  // the group-by values
  uint64_t count = 0;              // events, distinct values or distinct rules
  int64_t from = 0, to = 0;        // the first and last event's time
};

class CorrelationEngine {
 public:
  // What to read from each input's events: the slots of the group-by
  // fields and, for value_count, of the counted field.
  struct Input {
    std::vector<uint32_t> group_slots;
    std::optional<uint32_t> value_slot;
  };
  using Sink = std::function<void(CorrelationResult&&)>;

  CorrelationEngine(const RuleCorrelation& spec, std::vector<Input> inputs, Sink sink);
  // A result of input `input`; hits come in time order.
  void push(size_t input, const CorrelationHit& hit);
  // Ends the input: windows still open are decided.
  void finish();
  uint64_t ungrouped() const { return ungrouped_; }  // hits without a group-by value
  // The open windows, for a checkpoint (events written once each); load()
  // reads them into an engine of the same correlation that has seen
  // nothing. False, with why, when the state cannot be read.
  void save(std::string& out) const;
  bool load(std::string_view in, std::string* error);

 private:
  struct Entry {
    int64_t time;
    size_t input;
    std::string value;
    std::vector<EventPtr> events;
  };
  struct Window {
    std::vector<Entry> entries;  // in time order
    int64_t start = 0;
    // temporal_ordered: per stage, the partial that has reached it
    std::vector<std::optional<std::vector<Entry>>> stages;
  };
  using Group = std::vector<std::string>;

  bool holds(uint64_t count) const;
  uint64_t count(const Window& window) const;
  void fire(const Group& group, std::vector<Entry> entries, uint64_t count);
  // Decides the anchored windows that ended before `time` (all with `all`).
  void close_before(int64_t time, bool all = false);
  void sweep(int64_t time);  // drops windows nothing can complete any more
  void push_ordered(const Group& group, Window& window, Entry entry);

  const RuleCorrelation& spec_;
  std::vector<Input> inputs_;
  Sink sink_;
  // Lower bounds only (gt, gte): a sliding window fires once the count is
  // reached. Any upper bound: a window anchored at its first hit is decided
  // when it ends, since a later hit could still break the bound.
  bool sliding_ = true;
  size_t distinct_rules_ = 0;  // the rules the inputs name
  std::map<Group, Window> windows_;
  std::multimap<int64_t, Group> starts_;  // anchored windows by their first hit's time
  uint64_t ungrouped_ = 0;
  uint64_t since_sweep_ = 0;
};

}  // namespace pickaxe
