// Hunting: every selected rule, each of its alternative queries, evaluated in
// one pass over the input; results become ECS alert documents.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "correlate/correlation.h"
#include "correlate/stream.h"
#include "hunt/alert.h"
#include "hunt/exceptions.h"
#include "rules/rule.h"

namespace pickaxe {

struct RuleSelection {
  std::vector<std::string> rule_ids;  // empty: all
  std::vector<std::string> tags;      // a rule needs one of them; empty: all
  std::string min_severity;           // low, medium, high, critical; empty: all
  bool selects(const Rule& rule) const;
};

int severity_rank(std::string_view severity);  // low 0 ... critical 3, unknown -1

struct HuntOptions {
  RuleSelection selection;
  StreamOptions stream;
  size_t max_sequence_state = 1'000'000;
  // Sample keys past a few thousand per query go to disk until the input
  // ends. Off where the input never ends and the state is checkpointed
  // (watch, serve): there the keys stay within max_sequence_state.
  bool spill_samples = true;
  size_t threads = 1;          // engines run in parallel; the alerts are the same for any number
  std::string detection_time;  // the alerts' @timestamp; empty: when each alert is raised
  const ExceptionSet* exceptions = nullptr;  // tuning; must outlive the hunter
  std::vector<std::string> suppress_by;      // alert suppression: group by these fields...
  int64_t suppress_window = 0;  // ...within this many nanoseconds of a group's first alert
  // Alerts per rule execution for every rule, in place of each rule's
  // max_signals; UINT64_MAX: no cap.
  std::optional<uint64_t> max_signals;
  // A reload: the previous hunter's field slots keep their numbers, so that
  // the events its state holds read the same in the new one.
  const FieldIndex* base_fields = nullptr;
};

struct HuntStats {
  StreamStats stream;
  uint64_t alerts = 0;
  std::map<std::string, uint64_t>
      alerts_by_rule;  // rule name -> alerts (building blocks not counted)
  uint64_t state_evictions = 0;
  EngineStats sample_disk;  // the engines' sample_* figures, summed; the last error
  std::map<std::string, uint64_t> excepted_by_item;    // exception item -> results it removed
  std::map<std::string, uint64_t> suppressed_by_rule;  // rule name -> alerts suppressed
  std::map<std::string, uint64_t>
      over_max_signals;  // rule name -> alerts past max_signals in their execution
};

class Hunter {
 public:
  using AlertSink = std::function<void(const Alert&)>;

  // Compiles the selected, loaded rules; compile problems go to diagnostics.
  Hunter(const std::vector<Rule>& rules, const Schema& schema, HuntOptions options, AlertSink sink,
         JsonEventReader::ProblemHandler on_problem, Diagnostics& diagnostics);
  // A hunter of `prototype`'s rules and options with state of its own: the
  // compiled queries and the predicate program are `prototype`'s, not built
  // again (a serve worker's partitions). `prototype`, its rules and schema
  // must outlive it; `prototype` itself is best never fed.
  Hunter(const Hunter& prototype, AlertSink sink, JsonEventReader::ProblemHandler on_problem);
  Hunter(const Hunter&) = delete;
  Hunter& operator=(const Hunter&) = delete;
  // Whether both run one compiled program: the same compiled queries and
  // predicate program (see the constructor above).
  bool shares_program_with(const Hunter& other) const;

  size_t rule_count() const { return rule_count_; }
  // Why NDJSON lines are all parsed (the prefilter is off); empty when it is on.
  std::string prefilter_note() const;
  void read(std::istream& in, const std::string& name);
  // Results of the events released so far go out (input is quiet).
  void drain() {
    if (stream_) stream_->drain();
  }
  // Inputs read as they grow (see QueryStream::feed).
  void feed(LiveInput& input, std::string_view bytes) {
    if (stream_) stream_->feed(input, bytes);
  }
  void settle_input(LiveInput& input) {
    if (stream_) stream_->settle_input(input);
  }
  void end_input(LiveInput& input) {
    if (stream_) stream_->end_input(input);
  }
  void close_decoder(LiveInput& input) {
    if (stream_) stream_->close_decoder(input);
  }
  bool restore_input(LiveInput& input, SourceKind kind, std::string_view decoder) {
    return !stream_ || stream_->restore_input(input, kind, decoder);
  }
  // The newest event time the stream has seen (INT64_MIN: none yet).
  int64_t newest_time() const { return stream_ ? stream_->newest_time() : INT64_MIN; }
  std::optional<int64_t> watermark(int64_t quiet) const {
    return stream_ ? stream_->watermark(quiet) : std::nullopt;
  }
  void advance_quiet(int64_t quiet) {
    if (stream_) stream_->advance_quiet(quiet);
  }
  // A plain NDJSON file, read by as many workers as threads (false: not such a file).
  bool read_file(const std::string& path);
  void finish();
  HuntStats stats() const;
  // The hunt's state for a checkpoint: the stream's (see QueryStream::save),
  // Sigma correlations' open windows, suppression groups, max_signals
  // windows and the alert counts. load() reads it into a hunter of the same
  // rules that has read nothing; false, with why, when it cannot (another
  // rule set, a damaged state).
  void save(std::string& out) const;
  bool load(std::string_view in, std::string* error);
  // The field slots a saved state's events use, to build the hunter that
  // loads it with (HuntOptions::base_fields); nullopt when it is no state.
  static std::optional<FieldIndex> saved_fields(std::string_view state);
  // Identifies the compiled rules: a checkpoint holds it.
  std::string rule_set_identity() const;
  const FieldIndex& fields() const { return fields_; }
  // Partial sequences held now, over all queries.
  uint64_t partial_sequences() const;
  // A reload: takes over the state of `previous` (built with base_fields =
  // &previous.fields()), which must have no text input open (see
  // QueryStream::close_decoders). Each query whose rule and text did not
  // change keeps its partial sequences and samples; the stream's time and
  // counts, suppression, max_signals windows and alert counts carry over;
  // events waiting in the reorder buffer are evaluated again against the new
  // rules. Returns how many queries (and correlations) kept their state.
  size_t adopt(Hunter& previous);

 private:
  // Where results go besides alerts: (correlation, its input) pairs.
  using Feeds = std::vector<std::pair<size_t, size_t>>;
  struct Compiled {
    const Rule* rule;
    size_t alternative;
    bool sequence;
    std::unique_ptr<QueryEngine> engine;
    bool alerts = true;  // false for a rule only correlations read
    Feeds feeds;
  };
  struct Correlation {
    const Rule* rule;
    std::unique_ptr<CorrelationEngine> engine;
    bool alerts = true;
    Feeds feeds;
    std::vector<std::string>
        term_fields;  // the group-by fields, as the first rule's events name them
    std::string value_field;
  };
  void emit(const Compiled& compiled, const QueryResult& result);
  void alert(const Compiled& compiled, const QueryResult& result);  // suppression, max_signals
  void emit_correlation(size_t index, CorrelationResult&& result);
  void feed(const Feeds& feeds, const std::vector<EventPtr>& events);
  // Sets up the correlations among the rules that the selection needs.
  void add_correlations(const std::vector<Rule>& rules, const std::set<std::string>& needed,
                        const Schema& schema, Diagnostics& diagnostics);
  // The stream over the compiled queries (sharing `program_of`'s predicate
  // program when given).
  void start_stream(const Schema& schema, JsonEventReader::ProblemHandler on_problem,
                    const QueryStream* program_of);
  // False (and counted) once the rule has raised max_signals alerts in the
  // execution that covers `time` (and in the next, whose look-back covers
  // the end of this one).
  bool under_max_signals(const Rule& rule, int64_t time);
  void send(const std::vector<Alert>& alerts);  // to the sink, counted
  std::string detection_time() const;

  HuntOptions options_;
  AlertSink sink_;
  const std::vector<Rule>* rules_;
  const Schema* schema_;
  std::set<std::string> needed_;  // the rules run: selected, or read by a correlation
  FieldIndex fields_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
  std::vector<std::unique_ptr<Correlation>>
      correlations_;  // inputs before the correlations they feed
  std::vector<uint32_t> correlation_slots_;
  std::unique_ptr<QueryStream> stream_;
  size_t rule_count_ = 0;
  uint64_t alerts_ = 0;
  std::map<std::string, uint64_t> alerts_by_rule_;
  std::unique_ptr<CompiledExceptions> exceptions_;
  std::vector<uint32_t> suppress_slots_;
  std::map<std::vector<std::string>, int64_t>
      suppression_groups_;  // rule id + values -> group start
  static constexpr size_t kPruneGroupsAt = 65536;
  size_t prune_groups_at_ = kPruneGroupsAt;
  std::map<std::string, uint64_t> excepted_by_item_;
  std::map<std::string, uint64_t> suppressed_by_rule_;
  std::map<std::string, uint64_t> over_max_signals_;
  // Per rule: results alerted in each recent execution window (interval index).
  std::map<const Rule*, std::map<int64_t, uint64_t>> alerts_by_execution_;
};

}  // namespace pickaxe
