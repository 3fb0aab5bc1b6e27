// The streaming pipeline of one query: read JSON events, extract the fields
// the query reads, check them, restore timestamp order within a bounded
// lateness, and feed the engine. Bad events are reported and skipped.
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <istream>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>

#include "correlate/engine.h"
#include "correlate/task_pool.h"
#include "event/packed_event.h"
#include "ingest/reader.h"
#include "match/literals.h"
#include "source/live_input.h"
#include "source/source.h"
#include "util/bytes.h"

namespace pickaxe {

struct StreamOptions {
  SourceKind source = SourceKind::Auto;    // how to read each record (auto: detected per record)
  int64_t max_lateness = 300'000'000'000;  // nanoseconds an event may arrive behind the newest one
  // Skip NDJSON lines unparsed when they hold none of the literals some
  // query filter needs (ECS input only; results are the same either way).
  bool prefilter = true;
  // Events dated further than this ahead of the newest one are held apart
  // rather than moving the stream's time (a clock error must not make every
  // later event late).
  int64_t future_limit = 3'600'000'000'000;  // 1 hour
  // The reorder buffer's budget (its events' text and values, estimated);
  // past it, the earliest events go on early, counted.
  size_t max_buffer_bytes = size_t{256} << 20;
  // Events dated outside [from, to] (nanoseconds, both ends included) are
  // passed over, counted; events without a time are kept.
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t to = std::numeric_limits<int64_t>::max();
  ReaderOptions reader;
};

struct StreamStats {
  uint64_t events = 0;             // events read, with those the prefilter skipped
  uint64_t prefiltered = 0;        // NDJSON lines skipped unparsed: no query can match them
  uint64_t unscanned_inputs = 0;   // inputs read without the prefilter: too few lines to skip
  uint64_t malformed = 0;          // lines that are not JSON objects, or too long, or undecodable
  uint64_t malformed_records = 0;  // records a source decoder could not read
  uint64_t flawed_records = 0;     // records decoded with a value kept as written (bad hex)
  uint64_t without_eoe = 0;        // auditd syscall events that ended without their EOE
  uint64_t without_event = 0;      // Sysmon syslog lines carrying no event (its banner)
  uint64_t missing_timestamp = 0;  // events without a usable timestamp
  uint64_t wrong_type = 0;         // events with a field of the wrong type
  uint64_t late = 0;               // events later than max_lateness, processed out of order
  uint64_t held_ahead = 0;         // events dated past future_limit, held apart (not dropped)
  uint64_t released_early = 0;     // events let out of a full reorder buffer before their time
  uint64_t seconds_like = 0;       // events dated 1970-01-02..1973-03-03: epoch seconds as ms?
  uint64_t outside_range = 0;      // events dated outside [from, to], passed over (hunt only)
  uint64_t spooled = 0;            // documents of held events moved to disk (unmapped input)
  uint64_t spool_failures = 0;     // ... kept in memory instead: the spool could not take them
  std::string spool_error;         // why, the last time
  uint64_t bytes = 0;
  // Events that went to the rules, by how they were read (SourceKind), as
  // they arrive; lines the prefilter skipped are ECS (stats() adds them).
  std::array<uint64_t, 6> events_by_source{};
  uint64_t rejected() const { return malformed + missing_timestamp + wrong_type; }
  // Events read so far, also those still in the reorder buffer and those
  // skipped for want of a timestamp or a right-typed field (not malformed lines).
  uint64_t arrived() const {
    uint64_t sum = missing_timestamp + wrong_type;
    for (uint64_t count : events_by_source) sum += count;
    return sum;
  }
};

class QueryStream {
 public:
  QueryStream(QueryEngine& engine, const Schema& schema, StreamOptions options,
              JsonEventReader::ProblemHandler on_problem);
  // Several engines built over one shared FieldIndex (all with the same
  // timestamp and tiebreaker fields): each event is read and extracted once.
  QueryStream(std::vector<QueryEngine*> engines, const Schema& schema, StreamOptions options,
              JsonEventReader::ProblemHandler on_problem);
  // The same, over engines that share their compiled queries with
  // `program_of`'s (QueryEngine(shared_query)): its predicate program is
  // shared too, not built again.
  QueryStream(std::vector<QueryEngine*> engines, const QueryStream& program_of,
              const Schema& schema, StreamOptions options,
              JsonEventReader::ProblemHandler on_problem);
  // The predicate program the filters are evaluated with (null: none).
  const PredicateProgram* predicate_program() const { return predicates_.get(); }

  // Takes the engines' results as they become final, in one order whatever
  // the number of threads: by the event that completed them, then by engine.
  // With more than two threads, engines run in parallel over batches of
  // events (on half of the threads); otherwise on the committing thread.
  using ResultHandler = std::function<void(size_t engine, QueryResult&&)>;
  void set_result_handler(ResultHandler handler, size_t threads = 1);

  void read(std::istream& in, const std::string& name);
  // Reads a regular, uncompressed NDJSON file with `threads` workers, which
  // parse and check line-aligned chunks of a memory map in parallel; events
  // then go on in input order, so results are those of read(). Returns false,
  // having read nothing, for any other file (read it with read()).
  bool read_file(const std::string& path, size_t threads);
  // Reads the complete lines `bytes` ends, with any partial line the input
  // held; the rest waits. JSON inputs are NDJSON here: one event per line.
  void feed(LiveInput& input, std::string_view bytes);
  // The input is quiet: events a text decoder holds open (an auditd event
  // still waiting for records) go on.
  void settle_input(LiveInput& input);
  // Sets how the input is read (a checkpoint's): its source and, for a text
  // source, its decoder's saved state. False when the state cannot be read.
  bool restore_input(LiveInput& input, SourceKind kind, std::string_view decoder);
  // The input ended (or was replaced): a partial last line is read as a line.
  void end_input(LiveInput& input);
  // Ends the input's text decoder (its open event goes on): the next line
  // chooses one again, in whatever stream then reads the input.
  void close_decoder(LiveInput& input);
  // A reload: takes the time, counts and waiting events of `previous`, a
  // stream of the same input over other rules (whose engines hold what they
  // had). The waiting events are prepared again against these rules, in
  // their arrival order; `previous` is left empty.
  void adopt(QueryStream& previous);
  // Input has been quiet for `quiet` nanoseconds of wall time: the stream's
  // time moves on by as much, and events it passes leave the reorder buffer
  // (see README, "Running continuously").
  void advance_quiet(int64_t quiet);
  int64_t newest_time() const { return newest_; }
  // The stream's time less --max-lateness, after `quiet` nanoseconds of
  // wall time without a newer event: events before it have gone on.
  // nullopt before any event (or with unbounded lateness).
  std::optional<int64_t> watermark(int64_t quiet) const;
  // The stream's state (its clock, counts, reorder buffer and engines), for
  // a checkpoint; load() reads it into a stream of the same queries that has
  // read nothing yet. False, with why, when the state cannot be read.
  // Single-threaded streams only (results of a batch in flight are not held).
  void save(std::string& out) const;
  bool load(std::string_view in, std::string* error);
  bool done() const;
  // Slots every candidate event keeps besides those its engines read (for
  // what is done with results: exceptions, suppression).
  void keep_slots(const std::vector<uint32_t>& slots) {
    always_kept_.insert(always_kept_.end(), slots.begin(), slots.end());
  }
  // Why the prefilter is off for this stream; empty when it is on.
  const std::string& prefilter_note() const { return prefilter_note_; }
  // The engine whose filter turned the prefilter off, if one did.
  std::optional<size_t> prefilter_blocker() const { return prefilter_blocker_; }
  // Flushes the reorder buffer and returns the (first) engine's results; with
  // several engines, call finish() on each engine after flush().
  std::vector<QueryResult> finish();
  void flush();
  // Runs the engines over the events released so far (with threads, they
  // wait in batches), so that their results are out while input is quiet.
  void drain() { run_batch(); }
  StreamStats stats() const;

 private:
  struct EngineFilter {
    uint32_t engine;
    uint32_t filter;
    const CompiledFilter* compiled;        // engines_[engine]->filters()[filter]
    const Node* condition;                 // its condition, reached without compiled
    const std::vector<uint32_t>* clauses;  // its literal clauses (engine_clauses_)
  };
  // The filters an index bucket holds, and how to choose among them by the
  // rule set's predicates: a filter with an anchor is evaluated only when
  // one of its anchor's predicates fires; the others always are.
  struct Bucket {
    std::vector<EngineFilter> filters;    // by engine, then filter
    std::vector<uint32_t> unanchored;     // indices into filters
    std::vector<uint32_t> anchor_groups;  // the predicate groups of the anchors
    // Predicate -> the filters anchored on it: open addressing over
    // `anchored`, which holds each predicate's filters together.
    struct AnchorSlot {
      uint32_t predicate = UINT32_MAX;  // UINT32_MAX: empty
      uint32_t begin = 0, end = 0;      // in anchored
    };
    std::vector<AnchorSlot> anchor_table;  // a power of two long, at most half full
    std::vector<uint32_t> anchored;
    std::span<const uint32_t> anchored_on(uint32_t predicate) const {
      if (anchor_table.empty()) return {};
      const size_t mask = anchor_table.size() - 1;
      for (size_t at = (predicate * size_t{0x9E3779B1}) & mask;; at = (at + 1) & mask) {
        const AnchorSlot& slot = anchor_table[at];
        if (slot.predicate == predicate)
          return {anchored.data() + slot.begin, slot.end - slot.begin};
        if (slot.predicate == UINT32_MAX) return {};
      }
    }
  };
  // An engine an event goes to, with the filters of it the event matched
  // (bit f: filters()[f]; engines of more filters evaluate them themselves).
  struct Match {
    uint32_t engine;
    uint32_t filters;
  };
  static constexpr uint32_t kMaskedFilters = 32;
  struct Pending {
    PackedEvent event;
    uint64_t arrival;
    std::vector<Match> matches;  // the engines with a filter that matches the event
    size_t bytes = 0;            // what it costs the reorder buffer (buffered_size)
    int64_t timestamp = 0;       // the event's, kept here for ordering without a lookup
  };
  // An event out of the buffer, on its way to its engines.
  struct Released {
    std::shared_ptr<Event> event;
    std::vector<Match> matches;
    PackedEvent packed;  // with threads: unpacked into `event` by the batch's workers
  };
  struct Later {
    const QueryStream* stream;
    bool operator()(const Pending& a, const Pending& b) const;  // true when a comes after b
  };

  // What becomes of one record: an event for the engines (with the engines
  // whose filters match it), an event no filter matches, or a problem.
  struct Outcome {
    enum class Kind : uint8_t {
      Candidate,
      Inert,
      MissingTimestamp,
      WrongType,
      BadRecord,
      ReaderProblem
    };
    Outcome(Kind kind, uint64_t line) : kind(kind), line(line) {}
    Kind kind = Kind::Inert;
    uint64_t line = 0;
    PackedEvent event;
    std::vector<Match> matches;
    std::string problem;                  // a Candidate's: skipped by the engines that need a time
    SourceKind source = SourceKind::Ecs;  // how the record was read
  };
  // The state one thread needs to prepare events.
  struct Worker {
    simdjson::dom::parser decoded_parser;  // parses what a source decoder wrote
    // The engine index: the filters that may match events with the same
    // values in the index slots (data stream, category, ...), by those values.
    struct SignatureHash {
      size_t operator()(const std::string& signature) const { return hash_bytes(signature); }
    };
    std::unordered_map<std::string, Bucket, SignatureHash> engines_by_signature;
    std::vector<uint32_t> candidates;   // the bucket's filters to evaluate on this event
    std::vector<uint64_t> filter_mark;  // per filter of the bucket: the last event it was taken for
    std::string signature;
    std::vector<uint64_t> clause_mark;  // per clause: the last line with a hit on it
    uint64_t line_mark = 0;
    std::vector<uint64_t> slot_mark;  // per slot: the last event that keeps it
    uint64_t event_mark = 0;
    std::string_view mapped_input;              // a mapped file that outlives the stream's events
    Event scratch;                              // each event is extracted here first
    std::unique_ptr<PredicatePass> predicates;  // the rule set's predicates for this event
  };
  // Preparing reads only shared state that no longer changes, so workers
  // run it in parallel; committing takes outcomes in input order.
  Outcome prepare(Worker& worker, simdjson::dom::element document, std::string_view text,
                  uint64_t line, const LineHits* hits);
  // For an ECS document a source decoder wrote.
  Outcome prepare_decoded(Worker& worker, std::string ecs, uint64_t line,
                          SourceKind source = SourceKind::Ecs);
  // Checks an event and finds the engines whose filters match it. Its
  // document (`owned`, else `text`: a view when it lies in the worker's
  // mapped input, a copy otherwise) is kept only when one does.
  // `hits`: the prefilter's hits on the event's line, when its text is the
  // event's own (not a decoded record's).
  // The event is the worker's scratch event.
  Outcome prepare_event(Worker& worker, uint64_t line, std::string_view text, std::string owned,
                        const LineHits* hits);
  // Counts, reports or buffers an outcome; `line_base` is added to its line.
  void commit(Outcome&& outcome, const std::string& name, uint64_t line_base = 0);
  void read_live_lines(LiveInput& input, std::string_view text);
  // A text source's decoder, feeding this stream; `name` (the input's) must
  // outlive it.
  std::unique_ptr<TextDecoder> text_decoder(SourceKind kind, const std::string& name);
  // The text source an input whose first non-blank line is this is read
  // as (auditd, Sysmon syslog), or nullopt for JSON.
  std::optional<SourceKind> text_source_of(std::string_view first_line) const;
  void read_text(std::istream& in, const std::string& name, SourceKind kind, std::string line,
                 uint64_t number);
  ReaderOptions reader_options();  // with the prefilter of the engines' filters
  static std::unique_ptr<PredicateProgram> share_predicates(
      const std::vector<QueryEngine*>& engines);
  static std::shared_ptr<PredicateProgram> shared_predicates(
      const std::vector<QueryEngine*>& engines, const QueryStream& program_of);
  QueryStream(std::vector<QueryEngine*> engines, const QueryStream* program_of,
              const Schema& schema, StreamOptions options,
              JsonEventReader::ProblemHandler on_problem);
  void release(int64_t up_to);
  void release_earliest(bool early);
  // Out of the buffer, counted as released.
  Pending take_earliest();
  void buffer_event(Pending&& pending);
  void admit_quarantined();
  static size_t buffered_size(const Pending& pending);
  void run_batch();
  void deliver(size_t engine, QueryResult&& result);
  // Why the event is skipped: a value that is not of its field's type.
  // `stream_time_read`: the stream's time field was read as a date already.
  std::optional<std::string> type_problem(const Event& event, bool stream_time_read) const;
  const std::vector<SlotSchema>& slot_schema() const;

  struct Buffered {
    uint64_t trigger;  // order of the event that completed the result
    QueryResult result;
  };

  std::vector<QueryEngine*> engines_;
  QueryEngine& engine_;  // the first engine: fields, timestamp and tiebreaker
  ResultHandler handler_;
  size_t threads_ = 1;
  std::vector<Released> batch_;
  std::shared_ptr<Event> spare_event_;    // released and held by no engine: unpacked into next
  std::vector<Released> settling_;        // a batch's events, until their results are handled
  std::unique_ptr<TaskPool> batch_pool_;  // runs engines over batches, threads_ > 1
  // read_file's lanes: one per thread, each with its worker and reader.
  struct Lane {
    Worker worker;
    std::unique_ptr<JsonEventReader> reader;
    std::vector<Outcome>* sink = nullptr;
  };
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::unique_ptr<TaskPool> read_pool_;
  std::vector<uint32_t> signature_slots_;  // the engine index's slots
  std::vector<uint32_t> always_kept_;      // see keep_slots
  // A candidate event keeps only the fields its engines (and results) read.
  void trim_fields(Worker& worker, Event& event, const std::vector<Match>& matches) const;
  void push(const Match& match, const EventPtr& event);
  // After its engines took it: an event they hold keeps only the kept slots.
  void settle(Event& event);
  void mark_kept();         // fills kept_ (before settling, which may run on several threads)
  std::vector<bool> kept_;  // per slot: in always_kept_
  std::unique_ptr<DocumentSpool> spool_;  // documents of held events from unmapped input
  // The filters of each engine that the event passes the index for, by
  // engine, cached per combination of index values.
  const Bucket& indexed_filters(Worker& worker, const Event& event) const;
  Worker main_worker_;
  std::vector<std::vector<Buffered>> buffered_;  // per engine, during a batch
  std::vector<uint64_t> trigger_;                // per engine: the event being pushed
  const Schema& schema_;
  StreamOptions options_;
  JsonEventReader::ProblemHandler on_problem_;
  std::string prefilter_note_;
  std::optional<size_t> prefilter_blocker_;
  std::shared_ptr<const Prefilter> prefilter_;
  // The engines' filters' grouped predicates; shared by the streams whose
  // engines share their compiled queries.
  std::shared_ptr<PredicateProgram> predicates_;
  std::vector<std::shared_ptr<const void>> mapped_inputs_;  // files read by read_file
  // Engines chosen by the literals on an event's line: the clauses each
  // literal belongs to, and per engine its filters as lists of clauses that
  // must all have a hit (a filter with no clause needs none).
  std::vector<std::vector<uint32_t>> clauses_by_literal_;
  struct EngineClauses {
    std::vector<std::vector<uint32_t>> filters;  // per filter: its clause ids
  };
  std::vector<EngineClauses> engine_clauses_;
  size_t clause_count_ = 0;
  JsonEventReader reader_;
  mutable std::vector<SlotSchema> slot_schema_;
  // Per slot, whether type_problem() checks its values: a field of type
  // long, double, boolean, ip or date (with slot_schema_).
  mutable std::vector<bool> type_checked_;
  // The reorder buffer: events arriving in order go to a queue, in O(1); only
  // those arriving out of order go to the heap. Release takes the earlier head.
  std::priority_queue<Pending, std::vector<Pending>, Later> buffer_;
  std::deque<Pending> in_order_;
  bool buffered() const { return !buffer_.empty() || !in_order_.empty(); }
  const Pending& earliest() const;
  bool earliest_in_heap() const;
  bool any_sample_ = false;  // events without a time go on, to the samples
  // Events dated far ahead, earliest first; this many agreeing move the time.
  static constexpr size_t kAgreeing = 16;
  std::priority_queue<Pending, std::vector<Pending>, Later> quarantine_{Later{this}};
  size_t buffered_bytes_ = 0;
  int64_t newest_ = std::numeric_limits<int64_t>::min();
  int64_t released_ = std::numeric_limits<int64_t>::min();
  uint64_t arrivals_ = 0;
  uint64_t order_ = 0;
  StreamStats stats_;
};

}  // namespace pickaxe
