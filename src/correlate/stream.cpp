#include "correlate/stream.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "event/patterns.h"
#include "ingest/mapped_file.h"
#include "match/literals.h"
#include "util/signals.h"

namespace pickaxe {

QueryStream::QueryStream(QueryEngine& engine, const Schema& schema, StreamOptions options,
                         JsonEventReader::ProblemHandler on_problem)
    : QueryStream(std::vector<QueryEngine*>{&engine}, schema, options, std::move(on_problem)) {}

QueryStream::QueryStream(std::vector<QueryEngine*> engines, const Schema& schema,
                         StreamOptions options, JsonEventReader::ProblemHandler on_problem)
    : QueryStream(std::move(engines), nullptr, schema, options, std::move(on_problem)) {}

QueryStream::QueryStream(std::vector<QueryEngine*> engines, const QueryStream& program_of,
                         const Schema& schema, StreamOptions options,
                         JsonEventReader::ProblemHandler on_problem)
    : QueryStream(std::move(engines), &program_of, schema, options, std::move(on_problem)) {}

QueryStream::QueryStream(std::vector<QueryEngine*> engines, const QueryStream* program_of,
                         const Schema& schema, StreamOptions options,
                         JsonEventReader::ProblemHandler on_problem)
    : engines_(std::move(engines)),
      engine_(*engines_.front()),
      schema_(schema),
      options_(options),
      on_problem_(on_problem),
      predicates_(program_of ? shared_predicates(engines_, *program_of)
                             : share_predicates(engines_)),
      reader_(reader_options(), on_problem),
      buffer_(Later{this}) {
  // The stream orders events by their time (read once, into Event::timestamp)
  // and the tiebreaker.
  if (auto slot = engine_.tiebreaker_slot()) always_kept_.push_back(*slot);
  for (const QueryEngine* engine : engines_) any_sample_ = any_sample_ || !engine->needs_time();
  for (const QueryEngine* engine : engines_)
    signature_slots_.insert(signature_slots_.end(), engine->index_slots().begin(),
                            engine->index_slots().end());
  std::sort(signature_slots_.begin(), signature_slots_.end());
  signature_slots_.erase(std::unique(signature_slots_.begin(), signature_slots_.end()),
                         signature_slots_.end());
}

namespace {
const std::vector<uint32_t> kNoClauses;
}  // namespace

std::unique_ptr<PredicateProgram> QueryStream::share_predicates(
    const std::vector<QueryEngine*>& engines) {
  // One predicate program for the engines' filters, unless one of them
  // already serves another stream's.
  auto program = std::make_unique<PredicateProgram>();
  for (QueryEngine* engine : engines)
    if (!engine->attach(*program)) return nullptr;
  program->build();
  return program;
}

std::shared_ptr<PredicateProgram> QueryStream::shared_predicates(
    const std::vector<QueryEngine*>& engines, const QueryStream& program_of) {
  // Only for engines compiled with it: their filters name its predicates.
  // Others are evaluated without a program, more slowly but right.
  for (const QueryEngine* engine : engines)
    if (engine->query().program != program_of.predicates_.get()) return nullptr;
  return program_of.predicates_;
}

const QueryStream::Bucket& QueryStream::indexed_filters(Worker& worker, const Event& event) const {
  std::string& signature = worker.signature;
  signature.clear();
  for (uint32_t slot : signature_slots_) {
    for (const Scalar& value : event.fields[slot]) {
      if (value.type == Scalar::Type::String) {
        signature += 's';
        signature += value.string;
      } else {
        signature += 'o';
        signature += value.to_string();
      }
      signature += '\x1f';
    }
    signature += '\x1e';
  }
  auto& cache = worker.engines_by_signature;
  auto it = cache.find(signature);
  if (it != cache.end()) return it->second;
  Bucket bucket;
  std::vector<EngineFilter>& filters = bucket.filters;
  for (size_t i = 0; i < engines_.size(); ++i)
    for (uint32_t filter : engines_[i]->index_filters(event))
      filters.push_back({static_cast<uint32_t>(i), filter, &engines_[i]->filters()[filter],
                         engines_[i]->filters()[filter].condition.get(),
                         engine_clauses_.size() > i && engine_clauses_[i].filters.size() > filter
                             ? &engine_clauses_[i].filters[filter]
                             : &kNoClauses});
  std::vector<std::pair<uint32_t, uint32_t>> by_anchor;  // (predicate, filter)
  for (uint32_t i = 0; i < filters.size(); ++i) {
    const std::vector<uint32_t>& anchor = filters[i].compiled->anchor;
    if (!predicates_ || anchor.empty()) {
      bucket.unanchored.push_back(i);
      continue;
    }
    for (uint32_t predicate : anchor) {
      by_anchor.emplace_back(predicate, i);
      bucket.anchor_groups.push_back(predicates_->field_group(predicate));
    }
  }
  std::sort(by_anchor.begin(), by_anchor.end());
  size_t table_size = 4;
  while (table_size < by_anchor.size() * 2) table_size *= 2;
  bucket.anchor_table.assign(table_size, {});
  for (size_t i = 0; i < by_anchor.size();) {
    const uint32_t predicate = by_anchor[i].first;
    Bucket::AnchorSlot slot{predicate, static_cast<uint32_t>(bucket.anchored.size()), 0};
    for (; i < by_anchor.size() && by_anchor[i].first == predicate; ++i)
      bucket.anchored.push_back(by_anchor[i].second);
    slot.end = static_cast<uint32_t>(bucket.anchored.size());
    size_t at = (predicate * size_t{0x9E3779B1}) & (table_size - 1);
    while (bucket.anchor_table[at].predicate != UINT32_MAX) at = (at + 1) & (table_size - 1);
    bucket.anchor_table[at] = slot;
  }
  std::sort(bucket.anchor_groups.begin(), bucket.anchor_groups.end());
  bucket.anchor_groups.erase(std::unique(bucket.anchor_groups.begin(), bucket.anchor_groups.end()),
                             bucket.anchor_groups.end());
  if (cache.size() > 100'000) cache.clear();  // no end to the variety: start over
  return cache.emplace(signature, std::move(bucket)).first->second;
}

ReaderOptions QueryStream::reader_options() {
  ReaderOptions reader = options_.reader;
  if (!options_.prefilter) {
    prefilter_note_ = "turned off (--no-prefilter or --strict)";
    return reader;
  }
  if (options_.source != SourceKind::Auto && options_.source != SourceKind::Ecs) {
    prefilter_note_ = "the input is read as another source than ECS";
    return reader;
  }
  std::vector<std::vector<const CompiledFilter*>> groups;
  for (const QueryEngine* engine : engines_) {
    groups.emplace_back();
    for (const CompiledFilter& filter : engine->filters()) groups.back().push_back(&filter);
  }
  // Described here: reader_ is built before the slot_schema() cache exists.
  const std::vector<SlotSchema> slots = describe_slots(engine_.fields(), schema_);
  prefilter_ =
      build_prefilter(groups, engine_.fields(), options_.source == SourceKind::Auto, &slots);
  reader.prefilter = prefilter_;
  // The clauses each literal belongs to, and each engine's filters as clauses.
  engine_clauses_.assign(engines_.size(), {});
  if (prefilter_) {
    clauses_by_literal_.resize(prefilter_->literals().size());
    for (size_t i = 0; i < engines_.size(); ++i) {
      EngineClauses& mine = engine_clauses_[i];
      for (const Prefilter::Clauses& clauses : prefilter_->group_filters(i)) {
        std::vector<uint32_t> filter;
        for (const std::vector<uint32_t>& clause : clauses) {
          for (uint32_t id : clause)
            clauses_by_literal_[id].push_back(static_cast<uint32_t>(clause_count_));
          filter.push_back(static_cast<uint32_t>(clause_count_++));
        }
        mine.filters.push_back(std::move(filter));
      }
    }
  }
  main_worker_.clause_mark.assign(clause_count_, 0);
  if (prefilter_ && prefilter_->skips_lines()) return reader;
  // The first filter without literals (a filter with no clause) turns line skipping off.
  for (size_t i = 0; i < engines_.size() && !prefilter_blocker_; ++i) {
    const auto& filters = engines_[i]->filters();
    for (size_t f = 0; f < filters.size(); ++f) {
      if (prefilter_ && !prefilter_->group_filters(i)[f].empty()) continue;
      prefilter_blocker_ = i;
      prefilter_note_ = fmt::format(
          "{} filter can match events that hold none of its literals",
          filters[f].any ? std::string("an `any`") : fmt::format("a `{}`", filters[f].category));
      break;
    }
  }
  return reader;
}

bool QueryStream::Later::operator()(const Pending& a, const Pending& b) const {
  if (a.timestamp != b.timestamp) return a.timestamp > b.timestamp;
  if (auto slot = stream->engine_.tiebreaker_slot()) {
    std::optional<Scalar> x = a.event.first_value(*slot);
    std::optional<Scalar> y = b.event.first_value(*slot);
    if (x && y && !(*x == *y)) return *y < *x;
  }
  return a.arrival > b.arrival;
}

bool QueryStream::done() const {
  for (const QueryEngine* engine : engines_) {
    if (!engine->done()) return false;
  }
  return true;
}

void QueryStream::read(std::istream& in, const std::string& name) {
  if (done()) return;
  std::string line;
  uint64_t number = 0;
  const size_t limit = reader_.options().max_line_bytes;
  const auto on_document = [&](simdjson::dom::element document, std::string_view text,
                               uint64_t at) {
    commit(prepare(main_worker_, document, text, at, reader_.line_hits()), name);
  };
  for (LineRead got; (got = read_line_head(in, line, limit)) != LineRead::End;) {
    ++number;
    if (number == 1) strip_byte_order_mark(line);
    if (got == LineRead::TooLong) {
      // A CloudTrail file or a JSON array on one line streams; else the line is too long.
      if (options_.source != SourceKind::Auditd && options_.source != SourceKind::Sysmon &&
          starts_document(line)) {
        reader_.read_document(in, name, on_document, std::move(line));
        return;
      }
      uint64_t length = line.size() + skip_line(in);
      reader_.count_bytes(length + 1);
      reader_.problem(name, number, too_long(length, limit));
      continue;
    }
    if (line.find_first_not_of(" \t\r") != std::string::npos) break;
  }
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  // The first line decides between JSON and a line-oriented source.
  if (std::optional<SourceKind> text_kind = text_source_of(line)) {
    read_text(in, name, *text_kind, std::move(line), number);
    return;
  }
  reader_.read_from(in, name, on_document, std::move(line), number);
}

std::optional<SourceKind> QueryStream::text_source_of(std::string_view first_line) const {
  const char opening = first_line[first_line.find_first_not_of(" \t\r")];
  const bool json = opening == '{' || opening == '[';
  if (options_.source == SourceKind::Auditd) return SourceKind::Auditd;
  if (options_.source == SourceKind::Sysmon && !json) return SourceKind::Sysmon;
  if (options_.source != SourceKind::Auto) return std::nullopt;
  return detect_text_source(first_line);
}

namespace {

// The end of the line holding `at` (just past its newline), or the text's end.
size_t line_end_after(std::string_view text, size_t at) {
  if (at >= text.size()) return text.size();
  const void* newline = std::memchr(text.data() + at, '\n', text.size() - at);
  return newline ? static_cast<size_t>(static_cast<const char*>(newline) - text.data()) + 1
                 : text.size();
}

}  // namespace

bool QueryStream::read_file(const std::string& path, size_t threads) {
  if (done()) return true;
  auto file = std::make_shared<MappedFile>(path);
  std::string_view text = file->text();
  if (text.empty()) return false;
  // As read() decides: only JSON lines, one object per line, are read here.
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') return false;
  if (options_.source == SourceKind::Auditd || options_.source == SourceKind::Sysmon) return false;
  {
    // A first line past the limit may be a whole CloudTrail file: read()
    // streams it. Only the limit's worth of pages is looked at.
    const size_t limit = reader_.options().max_line_bytes;
    std::string_view head = text.substr(first, std::min(text.size() - first, limit + 1));
    if (head.find('\n') == std::string_view::npos && head.size() > limit) return false;
    std::string_view first_line = text.substr(first, line_end_after(text, first) - first);
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    if (parser.parse(first_line.data(), first_line.size(), true).get(document) ||
        !document.is_object())
      return false;  // an object over several lines: read() takes it whole
  }
  threads = std::max<size_t>(1, threads);
  slot_schema();  // described once, before workers share it
  // Buffered events and results view their documents in the mapping: it
  // stays mapped as long as the stream (its pages are let go as read). Past
  // kMaxMappedInputs files, documents are copied instead, to stay well
  // inside the kernel's limit on mappings.
  constexpr size_t kMaxMappedInputs = 1024;
  const bool keep_mapping = mapped_inputs_.size() < kMaxMappedInputs;
  if (keep_mapping) mapped_inputs_.push_back(file);
  struct Chunk {
    std::string_view text;
    std::vector<Outcome> outcomes;
    ReaderStats stats;
    uint64_t lines = 0;
  };
  // Lanes and their threads are kept from file to file: their caches (the
  // engine index, pattern scratch space) serve every file.
  if (lanes_.size() != threads) {
    lanes_.clear();
    ReaderOptions lane_options = reader_.options();
    lane_options.on_progress = nullptr;  // reported here, between blocks
    for (size_t t = 0; t < threads; ++t) {
      auto lane = std::make_unique<Lane>();
      lane->worker.clause_mark.assign(clause_count_, 0);
      lane->reader = std::make_unique<JsonEventReader>(
          lane_options, [sink = &lane->sink](const InputProblem& p) {
            Outcome outcome{Outcome::Kind::ReaderProblem, p.line};
            outcome.problem = p.message;
            (*sink)->push_back(std::move(outcome));
          });
      lanes_.push_back(std::move(lane));
    }
    read_pool_ = std::make_unique<TaskPool>(threads);
    // The lanes would need the wildcard databases at once, and wait for one
    // another compiling the same ones: they are compiled now, shared out.
    if (predicates_ && threads > 1) {
      std::atomic<size_t> next{0};
      read_pool_->run([&](size_t) { predicates_->prepare(next); });
    }
  }
  for (auto& lane : lanes_) lane->worker.mapped_input = keep_mapping ? text : std::string_view();
  // The file's first block decides whether its lines are scanned: the
  // stream's reader decides (and counts the inputs left unscanned).
  reader_.decide_scanning(text.substr(0, line_end_after(text, size_t{1} << 20)));
  for (auto& lane : lanes_) lane->reader->set_scanning(reader_.scanning());
  // Committed chunks' outcome lists, kept for the next chunks with their
  // storage: a fresh list would grow by copying, into memory never touched.
  std::vector<std::vector<Outcome>> spare_outcomes;
  std::mutex spare_mutex;
  auto work = [&](Lane& lane, Chunk& chunk) {
    {
      std::lock_guard lock(spare_mutex);
      if (!spare_outcomes.empty()) {
        chunk.outcomes = std::move(spare_outcomes.back());
        spare_outcomes.pop_back();
      }
    }
    file->map_in(chunk.text);
    lane.sink = &chunk.outcomes;
    ReaderStats before = lane.reader->stats();
    uint64_t number = 0;
    lane.reader->read_lines(
        chunk.text, number, path,
        [&](simdjson::dom::element document, std::string_view line_text, uint64_t at) {
          chunk.outcomes.push_back(
              prepare(lane.worker, document, line_text, at, lane.reader->line_hits()));
        },
        nullptr);  // a mapping can change under a parse (a file cut short): lines are copied
    chunk.lines = number;
    const ReaderStats& after = lane.reader->stats();
    chunk.stats = {.documents = after.documents - before.documents,
                   .malformed = after.malformed - before.malformed,
                   .skipped = after.skipped - before.skipped,
                   .bytes = after.bytes - before.bytes};
  };
  // Line-aligned chunks of about 1 MiB: chunk i holds the lines that begin
  // from i MiB on, up to those that begin from i + 1 MiB on. The thread that
  // takes a chunk finds its ends, so that no thread walks the file's pages
  // beforehand. Threads take the next chunk as they finish one, at most
  // `window` chunks ahead of the commit; this thread commits finished chunks
  // in input order, and works on chunks while the next one to commit is not
  // finished.
  // Pages read so far leave this process (the page cache keeps them), so
  // memory does not grow with the file. `released` is page-aligned.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t released = 0;
  auto release_pages = [&](size_t upto) {
    upto = upto / page * page;
    if (upto <= released) return;
    ::madvise(const_cast<char*>(text.data()) + released, upto - released, MADV_DONTNEED);
    released = upto;
  };
  constexpr size_t kChunkBytes = size_t{1} << 20;
  std::vector<Chunk> chunks((text.size() + kChunkBytes - 1) / kChunkBytes);
  // Chunk c's text. A line begins in it where a newline lies from the byte
  // before c MiB up to, not including, the byte before c + 1 MiB; with none
  // there, a longer line covers it and it is empty. Only a chunk with lines
  // looks past its end, to the end of its last line: a long line is searched
  // about twice, not once per chunk it covers.
  auto chunk_text = [&](size_t c) {
    const size_t from = c * kChunkBytes;
    size_t start = 0;
    if (c > 0) {
      const size_t to = std::min(text.size(), from + kChunkBytes) - 1;
      const void* newline = std::memchr(text.data() + from - 1, '\n', to - (from - 1));
      if (!newline) return text.substr(from, 0);
      start = static_cast<size_t>(static_cast<const char*>(newline) - text.data()) + 1;
    }
    const size_t end = line_end_after(text, std::min(text.size(), from + kChunkBytes) - 1);
    return text.substr(start, end - start);
  };
  const size_t window = 16 * threads;
  constexpr size_t kSpareOutcomes = 8192;  // a list of more (of short lines) is let go
  auto finished = std::make_unique<std::atomic<bool>[]>(chunks.size());
  std::atomic<size_t> next{0}, committed{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable progressed;
  enum class Took { Worked, Wait, None };
  auto take = [&](size_t lane) {
    size_t c = next.load();
    do {
      if (c >= chunks.size() || stop.load() || file->truncated()) return Took::None;
      if (c >= committed.load() + window) return Took::Wait;
    } while (!next.compare_exchange_weak(c, c + 1));
    chunks[c].text = chunk_text(c);
    work(*lanes_[lane], chunks[c]);
    finished[c].store(true, std::memory_order_release);
    progressed.notify_all();
    return Took::Worked;
  };
  auto helper = [&](size_t lane) {
    for (;;) {
      Took took = take(lane);
      if (took == Took::None) return;
      if (took == Took::Wait) {
        std::unique_lock lock(mutex);
        progressed.wait_for(lock, std::chrono::milliseconds(1));
      }
    }
  };
  // This thread commits (and helps); the pool's other threads help.
  const uint64_t bytes_before = reader_.stats().bytes;  // of the inputs read before this one
  auto commit_in_order = [&] {
    uint64_t line_base = 0;
    // A file cut short while read is read no further than the cut.
    for (size_t c = 0; c < chunks.size() && !done() && !stop_requested() && !file->truncated();) {
      if (!finished[c].load(std::memory_order_acquire)) {
        if (take(0) != Took::Worked) {
          std::unique_lock lock(mutex);
          progressed.wait_for(lock, std::chrono::milliseconds(1));
        }
        continue;
      }
      Chunk& chunk = chunks[c];
      reader_.absorb(chunk.stats);
      for (Outcome& outcome : chunk.outcomes) {
        if (done()) break;
        commit(std::move(outcome), path, line_base);
      }
      line_base += chunk.lines;
      chunk.outcomes.clear();
      if (chunk.outcomes.capacity() <= kSpareOutcomes) {
        std::lock_guard lock(spare_mutex);
        spare_outcomes.push_back(std::move(chunk.outcomes));
      }
      std::vector<Outcome>().swap(chunk.outcomes);
      committed.store(++c);
      progressed.notify_all();
      if (c % 4 == 0 || c == chunks.size()) {
        release_pages(static_cast<size_t>(chunk.text.data() - text.data()));  // committed chunks
        // How far into the file the committed chunks reach.
        const uint64_t reached =
            bytes_before +
            static_cast<uint64_t>(chunk.text.data() + chunk.text.size() - text.data());
        if (reader_.options().on_progress)
          reader_.options().on_progress(std::max(reader_.stats().bytes, reached));
      }
    }
    stop.store(true);
    progressed.notify_all();
  };
  read_pool_->run([&](size_t lane) {
    if (lane == 0)
      commit_in_order();
    else
      helper(lane);
  });
  if (file->truncated())
    reader_.problem(path, 0,
                    "the file was cut short while it was read (as logrotate's copytruncate "
                    "does); it was read up to the cut");
  return true;
}

void QueryStream::read_text(std::istream& in, const std::string& name, SourceKind kind,
                            std::string line, uint64_t number) {
  auto decoder = text_decoder(kind, name);
  const size_t limit = reader_.options().max_line_bytes;
  uint64_t length = line.size();
  LineRead got = LineRead::Line;
  do {
    reader_.count_bytes(length + 1);
    if (reader_.options().on_progress && (number & 0x3FFF) == 0)
      reader_.options().on_progress(reader_.stats().bytes);
    if (got == LineRead::TooLong) {
      reader_.problem(name, number, too_long(length, limit));
      continue;
    }
    decoder->add_line(line, number);
  } while (!reader_.stopped() && !stop_requested() &&
           (++number, got = read_bounded_line(in, line, limit, length)) != LineRead::End);
  decoder->finish();
  stats_.flawed_records += decoder->flawed();
  stats_.without_eoe += decoder->without_end();
  stats_.without_event += decoder->without_event();
}

void QueryStream::feed(LiveInput& input, std::string_view bytes) {
  if (done() || bytes.empty()) return;
  const size_t limit = reader_.options().max_line_bytes;
  split_live_lines(
      input, bytes, limit, [&](std::string_view text) { read_live_lines(input, text); },
      [&](uint64_t line, uint64_t length) {
        reader_.count_bytes(length + 1);
        reader_.problem(input.name, line, too_long(length, limit));
      });
}

void QueryStream::read_live_lines(LiveInput& input, std::string_view text) {
  if (input.lines == 0 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (!input.kind) {
    // The first non-blank line decides between JSON and a text source.
    std::string_view first = first_nonblank_line(text);
    if (first.empty()) {  // blank lines only, so far
      input.lines += static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
      reader_.count_bytes(text.size());
      return;
    }
    std::optional<SourceKind> text_kind = text_source_of(first);
    restore_input(input, text_kind.value_or(SourceKind::Auto), {});
  }
  if (!input.decoder) {
    reader_.read_lines(
        text, input.lines, input.name,
        [&](simdjson::dom::element document, std::string_view line_text, uint64_t at) {
          commit(prepare(main_worker_, document, line_text, at, reader_.line_hits()), input.name);
        },
        nullptr);
    return;
  }
  const size_t limit = reader_.options().max_line_bytes;
  for (size_t at = 0; at < text.size() && !done();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++input.lines;
    reader_.count_bytes(line.size() + 1);
    if (line.size() > limit) {
      reader_.problem(input.name, input.lines, too_long(line.size(), limit));
      continue;
    }
    input.decoder->add_line(line, input.lines);
  }
}

bool QueryStream::restore_input(LiveInput& input, SourceKind kind, std::string_view decoder) {
  input.kind = kind;
  input.decoder.reset();
  if (kind != SourceKind::Auditd && kind != SourceKind::Sysmon) return decoder.empty();
  input.decoder = text_decoder(kind, input.name);
  return decoder.empty() || input.decoder->load(decoder);
}

std::unique_ptr<TextDecoder> QueryStream::text_decoder(SourceKind kind, const std::string& name) {
  return make_text_decoder(
      kind,
      [this, &name, kind](std::string ecs, uint64_t at) {
        if (!done()) commit(prepare_decoded(main_worker_, std::move(ecs), at, kind), name);
      },
      [this, &name](uint64_t at, std::string message, bool skipped) {
        if (skipped) ++stats_.malformed_records;
        if (on_problem_) on_problem_({name, at, std::move(message)});
      });
}

void QueryStream::settle_input(LiveInput& input) {
  if (input.decoder) input.decoder->finish();
}

void QueryStream::end_input(LiveInput& input) {
  if (input.overlong) {
    ++input.lines;
    reader_.count_bytes(input.overlong_bytes);
    reader_.problem(input.name, input.lines,
                    too_long(input.overlong_bytes, reader_.options().max_line_bytes));
    input.overlong = false;
  }
  if (!input.tail.empty()) {
    std::string last = std::move(input.tail);
    input.tail.clear();
    last += '\n';
    read_live_lines(input, last);
  }
  close_decoder(input);
}

void QueryStream::close_decoder(LiveInput& input) {
  if (!input.decoder) return;
  input.decoder->finish();
  stats_.flawed_records += input.decoder->flawed();
  stats_.without_eoe += input.decoder->without_end();
  stats_.without_event += input.decoder->without_event();
  input.decoder.reset();
  input.kind.reset();
}

void QueryStream::adopt(QueryStream& previous) {
  newest_ = previous.newest_;
  released_ = previous.released_;
  arrivals_ = previous.arrivals_;
  order_ = previous.order_;
  stats_ = previous.stats_;
  reader_.restore_stats(previous.reader_.stats());
  std::vector<Pending> waiting;
  for (Pending& pending : previous.in_order_) waiting.push_back(std::move(pending));
  previous.in_order_.clear();
  for (auto* queue : {&previous.buffer_, &previous.quarantine_}) {
    for (; !queue->empty(); queue->pop())
      waiting.push_back(std::move(const_cast<Pending&>(queue->top())));
  }
  previous.buffered_bytes_ = 0;
  std::sort(waiting.begin(), waiting.end(),
            [](const Pending& a, const Pending& b) { return a.arrival < b.arrival; });
  // They were counted, and their problems said, when they first came: only
  // the counts of what happens to them now (released, or matching no rule
  // any more) are kept.
  const StreamStats counted = stats_;
  auto on_problem = std::exchange(on_problem_, nullptr);
  for (Pending& pending : waiting) {
    Event event;
    pending.event.unpack(event);
    commit(prepare_decoded(main_worker_, event.document(), event.line), "");
  }
  on_problem_ = std::move(on_problem);
  const uint64_t events = stats_.events, released_early = stats_.released_early;
  stats_ = counted;
  stats_.events = events;
  stats_.released_early = released_early;
}

std::optional<int64_t> QueryStream::watermark(int64_t quiet) const {
  int64_t horizon;
  if (newest_ == std::numeric_limits<int64_t>::min() ||
      __builtin_sub_overflow(newest_, options_.max_lateness, &horizon) ||
      __builtin_add_overflow(horizon, std::max<int64_t>(quiet, 0), &horizon))
    return std::nullopt;
  return horizon;
}

void QueryStream::advance_quiet(int64_t quiet) {
  if (quiet <= 0) return;
  if (std::optional<int64_t> horizon = watermark(quiet)) release(*horizon);
}

namespace {

// What type_problem() says a value of a field of this type must be; empty
// for the types whose values it does not check.
std::string_view expected_of(FieldType type) {
  switch (type) {
    case FieldType::Long:
    case FieldType::Double: return "a number";
    case FieldType::Boolean: return "true or false";
    case FieldType::Ip: return "an IP address";
    case FieldType::Date: return "a date";
    default: return {};
  }
}

}  // namespace

const std::vector<SlotSchema>& QueryStream::slot_schema() const {
  // The engines' fields are fixed once they are compiled; describe them once.
  if (slot_schema_.size() != engine_.fields().size()) {
    slot_schema_ = describe_slots(engine_.fields(), schema_);
    type_checked_.assign(slot_schema_.size(), false);
    for (size_t slot = 0; slot < slot_schema_.size(); ++slot)
      type_checked_[slot] =
          !expected_of(slot_schema_[slot].type.value_or(FieldType::Keyword)).empty();
  }
  return slot_schema_;
}

std::optional<std::string> QueryStream::type_problem(const Event& event,
                                                     bool stream_time_read) const {
  const FieldIndex& fields = engine_.fields();
  const std::vector<SlotSchema>& schema = slot_schema();
  // The stream's time, read already, is not read again.
  const uint32_t time_slot = engine_.stream_timestamp_slot();
  const bool time_checked =
      stream_time_read && schema[time_slot].date_format == &engine_.stream_time_format();
  // Entries come in document order; the problem named is the one of the
  // first slot, whatever the order of the document's keys.
  const Scalar* problem = nullptr;
  uint32_t problem_slot = 0;
  std::string_view problem_expected;
  for (const auto& [slot, values] : event.fields.unordered_entries()) {
    if (!type_checked_[slot]) continue;  // a bit per slot: no load of its schema
    if (problem && slot > problem_slot) [[unlikely]]
      continue;
    const FieldType type = *schema[slot].type;
    for (const Scalar& value : values) {
      if (time_checked && slot == time_slot && &value == &values.front()) continue;
      bool ok = true;
      switch (type) {
        case FieldType::Long:
        case FieldType::Double: ok = value.is_number(); break;
        case FieldType::Boolean: ok = value.type == Scalar::Type::Bool; break;
        case FieldType::Ip:
          ok = value.type == Scalar::Type::String && parse_ip(value.string).has_value();
          break;
        case FieldType::Date: ok = schema[slot].date_format->read(value).has_value(); break;
        default: break;
      }
      if (!ok) {
        problem = &value;
        problem_slot = slot;
        problem_expected = expected_of(type);
        break;
      }
    }
  }
  if (!problem) return std::nullopt;
  return fmt::format("field {} is {}, not {}; event skipped", fields.path(problem_slot),
                     problem->type == Scalar::Type::String ? fmt::format("\"{}\"", problem->string)
                                                           : problem->to_string(),
                     problem_expected);
}

void QueryStream::trim_fields(Worker& worker, Event& event,
                              const std::vector<Match>& matches) const {
  if (worker.slot_mark.size() < engine_.fields().size())
    worker.slot_mark.resize(engine_.fields().size(), 0);
  const uint64_t mark = ++worker.event_mark;
  for (uint32_t slot : always_kept_) worker.slot_mark[slot] = mark;
  for (const Match& match : matches) {
    const QueryEngine& engine = *engines_[match.engine];
    // An engine that is told which filters matched reads only its state's slots.
    const auto& slots =
        engine.filters().size() <= kMaskedFilters ? engine.state_slots() : engine.read_slots();
    for (uint32_t slot : slots) worker.slot_mark[slot] = mark;
  }
  event.fields.retain([&](uint32_t slot) { return worker.slot_mark[slot] == mark; });
}

QueryStream::Outcome QueryStream::prepare(Worker& worker, simdjson::dom::element document,
                                          std::string_view text, uint64_t line,
                                          const LineHits* hits) {
  Event& event = worker.scratch;
  SourceKind kind = options_.source == SourceKind::Auto ? detect_source(document) : options_.source;
  if (kind == SourceKind::CloudTrail || kind == SourceKind::Docker || kind == SourceKind::Sysmon) {
    std::string decoded, error;
    bool ok = decode_record(kind, document, decoded, error);
    simdjson::dom::element ecs;
    if (!ok || worker.decoded_parser.parse(decoded).get(ecs)) {
      Outcome outcome{Outcome::Kind::BadRecord, line};
      outcome.problem = fmt::format("{}; record skipped", error.empty() ? "cannot decode" : error);
      return outcome;
    }
    extract_fields(ecs, engine_.fields(), slot_schema(), event);
    Outcome outcome = prepare_event(worker, line, {}, std::move(decoded), nullptr);
    outcome.source = kind;
    return outcome;
  }
  extract_fields(document, engine_.fields(), slot_schema(), event);
  return prepare_event(worker, line, text, {}, hits);
}

QueryStream::Outcome QueryStream::prepare_decoded(Worker& worker, std::string ecs, uint64_t line,
                                                  SourceKind source) {
  simdjson::dom::element document;
  if (worker.decoded_parser.parse(ecs).get(document)) {
    Outcome outcome{Outcome::Kind::BadRecord, line};
    outcome.problem = "the decoder wrote invalid JSON; event skipped";
    return outcome;
  }
  extract_fields(document, engine_.fields(), slot_schema(), worker.scratch);
  Outcome outcome = prepare_event(worker, line, {}, std::move(ecs), nullptr);
  outcome.source = source;
  return outcome;
}

QueryStream::Outcome QueryStream::prepare_event(Worker& worker, uint64_t line,
                                                std::string_view text, std::string owned,
                                                const LineHits* hits) {
  Event& scratch = worker.scratch;
  const Values& stamp = scratch.fields[engine_.stream_timestamp_slot()];
  std::optional<int64_t> timestamp;
  if (!stamp.empty()) timestamp = engine_.stream_time_format().read(stamp.front());
  std::string time_problem;
  if (!timestamp) {
    const std::string& field = engine_.fields().path(engine_.stream_timestamp_slot());
    time_problem = stamp.empty() ? fmt::format("no {}; event skipped", field)
                                 : fmt::format("{} is not a date; event skipped", field);
    if (!any_sample_) {
      Outcome outcome{Outcome::Kind::MissingTimestamp, line};
      outcome.problem = std::move(time_problem);
      return outcome;
    }
  }
  if (auto problem = type_problem(scratch, timestamp.has_value())) {
    Outcome outcome{Outcome::Kind::WrongType, line};
    outcome.problem = std::move(*problem);
    return outcome;
  }
  scratch.timestamp = timestamp.value_or(0);
  scratch.has_timestamp = timestamp.has_value();
  // Most events match no filter of any query: no result can include them, so
  // they are counted and go no further. Ordering and lateness are decided by
  // the candidate events alone, which is what lets the prefilter skip lines
  // unparsed and still give exactly the same results.
  // An engine is skipped when, for each of its filters, some clause of the
  // filter's literals has no hit on the line.
  bool by_literal = hits && !hits->any_possible && prefilter_;
  if (by_literal) {
    ++worker.line_mark;
    for (uint32_t id : hits->literals)
      for (uint32_t clause : clauses_by_literal_[id]) worker.clause_mark[clause] = worker.line_mark;
  }
  const uint64_t* marks = worker.clause_mark.data();
  const uint64_t line_mark = worker.line_mark;
  auto literals_allow = [&](const EngineFilter& at) {
    for (uint32_t clause : *at.clauses)
      if (marks[clause] != line_mark) return false;
    return true;
  };
  // Each filter is evaluated only when the event has the values it requires
  // of the index slots and a hit on each of its literal clauses; the event
  // goes to the engines with a filter that matches, with those filters, so
  // that no engine evaluates a filter again.
  Outcome outcome{Outcome::Kind::Candidate, line};
  // The filters read the rule set's predicates, decided once per field.
  std::optional<ScopedPredicates> predicates;
  if (predicates_) {
    if (!worker.predicates) worker.predicates = std::make_unique<PredicatePass>(*predicates_);
    predicates.emplace(*worker.predicates, scratch);
  }
  const Bucket& bucket = indexed_filters(worker, scratch);
  // The filters worth evaluating: those whose anchor fired, and those without one.
  std::vector<uint32_t>& candidates = worker.candidates;
  candidates.clear();
  if (predicates) {
    if (worker.filter_mark.size() < bucket.filters.size())
      worker.filter_mark.resize(bucket.filters.size(), 0);
    const uint64_t mark = ++worker.event_mark;
    candidates = bucket.unanchored;
    for (uint32_t group : bucket.anchor_groups) {
      for (uint32_t predicate : worker.predicates->fired_in(group)) {
        for (uint32_t i : bucket.anchored_on(predicate)) {
          if (worker.filter_mark[i] == mark) continue;
          worker.filter_mark[i] = mark;
          candidates.push_back(i);
        }
      }
    }
    std::sort(candidates.begin(), candidates.end());
  } else {
    for (uint32_t i = 0; i < bucket.filters.size(); ++i) candidates.push_back(i);
  }
  for (uint32_t i : candidates) {
    const EngineFilter& at = bucket.filters[i];
    if (by_literal && !literals_allow(at)) continue;
    // The index checked the category, and the anchor chose the filter.
    if (predicates ? !worker.predicates->holds(*at.compiled)
                   : at.condition && !holds(*at.condition, scratch))
      continue;
    if (outcome.matches.empty() || outcome.matches.back().engine != at.engine)
      outcome.matches.push_back({at.engine, 0});
    if (at.filter < kMaskedFilters) outcome.matches.back().filters |= uint32_t{1} << at.filter;
  }
  predicates.reset();
  if (!timestamp) {
    // Only samples take an event without a time; for the others it is skipped.
    size_t before = outcome.matches.size();
    std::erase_if(outcome.matches,
                  [&](const Match& match) { return engines_[match.engine]->needs_time(); });
    if (outcome.matches.empty()) {  // as without samples: reported and counted
      Outcome skipped{Outcome::Kind::MissingTimestamp, line};
      skipped.problem = std::move(time_problem);
      return skipped;
    }
    if (outcome.matches.size() < before)
      outcome.problem = fmt::format("{} by the rules that need one", time_problem);
  }
  if (outcome.matches.empty()) return Outcome(Outcome::Kind::Inert, line);
  // The event goes on with the fields its engines read, copied out of the
  // worker's scratch event (whose storage serves the next event).
  trim_fields(worker, scratch, outcome.matches);
  // Text inside a mapped input is kept as a view; other text is copied.
  const std::string_view& mapped = worker.mapped_input;
  if (owned.empty() && !mapped.empty() && text.data() >= mapped.data() &&
      text.data() + text.size() <= mapped.data() + mapped.size()) {
    scratch.mapped_source = text;
    scratch.owned_source.clear();
  } else {
    scratch.mapped_source = {};
    if (owned.empty())
      scratch.owned_source.assign(text);
    else
      scratch.owned_source = std::move(owned);
  }
  outcome.event = PackedEvent(scratch);
  return outcome;
}

void QueryStream::commit(Outcome&& outcome, const std::string& name, uint64_t line_base) {
  uint64_t line = line_base + outcome.line;
  auto report = [&] {
    if (on_problem_) on_problem_({name, line, std::move(outcome.problem)});
  };
  if (outcome.kind == Outcome::Kind::Inert || outcome.kind == Outcome::Kind::Candidate)
    ++stats_.events_by_source[static_cast<size_t>(outcome.source)];
  switch (outcome.kind) {
    case Outcome::Kind::Inert: ++stats_.events; return;
    case Outcome::Kind::MissingTimestamp: ++stats_.missing_timestamp; return report();
    case Outcome::Kind::WrongType: ++stats_.wrong_type; return report();
    case Outcome::Kind::BadRecord: ++stats_.malformed_records; return report();
    case Outcome::Kind::ReaderProblem: return report();  // counted by the reader
    case Outcome::Kind::Candidate: break;
  }
  PackedEvent& event = outcome.event;
  event.set_line(line);
  if (!outcome.problem.empty()) {
    ++stats_.missing_timestamp;  // skipped by the engines that need a time
    report();
  }
  if (event.has_timestamp() &&
      (event.timestamp() < options_.from || event.timestamp() > options_.to)) {
    ++stats_.events;
    ++stats_.outside_range;
    return;
  }
  // An event without a time (for samples only) keeps its place in the input.
  if (!event.has_timestamp()) event.set_timestamp(std::max(newest_, released_));
  const int64_t timestamp = event.timestamp();
  // Dated 1970-01-02 to 1973-03-03: epoch seconds read as milliseconds?
  if (event.has_timestamp() && timestamp >= 100'000'000'000'000 &&
      timestamp < 100'000'000'000'000'000)
    ++stats_.seconds_like;
  Pending pending{std::move(event), arrivals_++, std::move(outcome.matches)};
  pending.timestamp = timestamp;
  // An event dated far ahead of the stream (a clock error) is held apart
  // instead of moving the stream's time, which would make every later event
  // late; it joins the others when their time catches up with it, when
  // enough events agree with it (the log really jumped ahead), or at the end.
  const bool bounded = options_.max_lateness != std::numeric_limits<int64_t>::max();
  if (bounded && newest_ != std::numeric_limits<int64_t>::min() &&
      timestamp - newest_ > options_.future_limit) {
    ++stats_.held_ahead;
    quarantine_.push(std::move(pending));
    if (quarantine_.size() >= kAgreeing) {
      newest_ = std::max(newest_, quarantine_.top().timestamp);
      admit_quarantined();
    }
  } else {
    buffer_event(std::move(pending));
    admit_quarantined();
  }
  int64_t horizon;
  if (__builtin_sub_overflow(newest_, options_.max_lateness, &horizon))
    horizon = std::numeric_limits<int64_t>::min();
  release(horizon);
  // Past the byte budget, the earliest events go on before their time.
  while (buffered_bytes_ > options_.max_buffer_bytes && buffered()) release_earliest(true);
}

// Into the reorder buffer: in order to a queue, out of order to the heap.
void QueryStream::buffer_event(Pending&& pending) {
  const int64_t timestamp = pending.timestamp;
  if (timestamp < released_) ++stats_.late;  // too late to sort: processed as it comes
  newest_ = std::max(newest_, timestamp);
  pending.bytes = buffered_size(pending);
  buffered_bytes_ += pending.bytes;
  if (in_order_.empty() || !Later{this}(in_order_.back(), pending))
    in_order_.push_back(std::move(pending));
  else
    buffer_.push(std::move(pending));
}

// Quarantined events whose time the stream has reached.
void QueryStream::admit_quarantined() {
  while (!quarantine_.empty() && quarantine_.top().timestamp - newest_ <= options_.future_limit) {
    Pending pending = std::move(const_cast<Pending&>(quarantine_.top()));
    quarantine_.pop();
    buffer_event(std::move(pending));
  }
}

// What an event held in the buffer costs: its text and its values, roughly.
size_t QueryStream::buffered_size(const Pending& pending) {
  return sizeof(Pending) + pending.event.bytes() + pending.matches.capacity() * sizeof(Match);
}

void QueryStream::set_result_handler(ResultHandler handler, size_t threads) {
  handler_ = std::move(handler);
  // Engines run on the thread that commits events while the readers prepare
  // the next ones: with two threads, both are busy preparing and a third
  // for engines would only take turns with them (measured: 1.88x one thread
  // against 1.72x with engines split over two). Past two threads, engines
  // are split over half of them, in batches.
  threads_ = threads <= 2 ? 1 : std::max<size_t>(1, std::min(threads / 2, engines_.size()));
  buffered_.assign(engines_.size(), {});
  trigger_.assign(engines_.size(), 0);
  for (size_t i = 0; i < engines_.size(); ++i) {
    engines_[i]->set_sink([this, i](QueryResult&& result) { deliver(i, std::move(result)); });
  }
}

void QueryStream::deliver(size_t engine, QueryResult&& result) {
  if (threads_ > 1) {
    buffered_[engine].push_back({trigger_[engine], std::move(result)});
  } else {
    handler_(engine, std::move(result));
  }
}

// Each worker runs its share of the engines over the whole batch; results are
// then handed on in event order, then engine order: the order one thread gives.
void QueryStream::run_batch() {
  if (batch_.empty()) return;
  if (!batch_pool_) batch_pool_ = std::make_unique<TaskPool>(threads_);
  // Events are unpacked by all workers at once, each taking every n-th.
  std::function<void(size_t)> unpack = [this](size_t worker) {
    for (size_t i = worker; i < batch_.size(); i += threads_) {
      Released& released = batch_[i];
      if (!released.packed) continue;
      released.packed.unpack(*released.event);
      released.packed = PackedEvent();
    }
  };
  batch_pool_->run(unpack);
  std::function<void(size_t)> work = [this](size_t worker) {
    for (const Released& released : batch_) {
      for (const Match& match : released.matches) {
        if (match.engine % threads_ != worker || engines_[match.engine]->done()) continue;
        trigger_[match.engine] = released.event->order;
        push(match, released.event);
      }
    }
  };
  batch_pool_->run(work);
  settling_.swap(batch_);  // settled once their results are handled
  batch_.clear();
  std::vector<std::tuple<uint64_t, size_t, size_t>> order;  // trigger, engine, index
  for (size_t i = 0; i < buffered_.size(); ++i) {
    for (size_t j = 0; j < buffered_[i].size(); ++j)
      order.emplace_back(buffered_[i][j].trigger, i, j);
  }
  std::sort(order.begin(), order.end());
  for (const auto& [trigger, engine, index] : order)
    handler_(engine, std::move(buffered_[engine][index].result));
  for (auto& results : buffered_) results.clear();
  mark_kept();
  std::function<void(size_t)> settle_share = [this](size_t worker) {
    for (size_t i = worker; i < settling_.size(); i += threads_)
      if (settling_[i].event.use_count() > 1) settle(*settling_[i].event);
  };
  batch_pool_->run(settle_share);
  settling_.clear();
}

// Whether the earliest buffered event is the heap's (else the queue's).
bool QueryStream::earliest_in_heap() const {
  if (in_order_.empty()) return true;
  if (buffer_.empty()) return false;
  return Later{this}(in_order_.front(), buffer_.top());
}

const QueryStream::Pending& QueryStream::earliest() const {
  return earliest_in_heap() ? buffer_.top() : in_order_.front();
}

void QueryStream::release(int64_t up_to) {
  while (buffered() && earliest().timestamp <= up_to) release_earliest(false);
}

QueryStream::Pending QueryStream::take_earliest() {
  const bool in_heap = earliest_in_heap();
  Pending head = std::move(const_cast<Pending&>(in_heap ? buffer_.top() : in_order_.front()));
  if (in_heap)
    buffer_.pop();
  else
    in_order_.pop_front();
  buffered_bytes_ -= std::min(buffered_bytes_, head.bytes);
  released_ = std::max(released_, head.timestamp);
  ++stats_.events;
  return head;
}

void QueryStream::release_earliest(bool early) {
  {
    // The event is unpacked, its engine list moved; with threads, the
    // batch's workers unpack it.
    Pending head = take_earliest();
    if (early) ++stats_.released_early;
    // Engines that need nothing of the event take it as it is; when none is
    // left, it is not unpacked at all.
    if (threads_ == 1)
      std::erase_if(head.matches, [&](const Match& match) {
        QueryEngine& engine = *engines_[match.engine];
        return engine.done() || (engine.filters().size() <= kMaskedFilters &&
                                 engine.pass_over(head.event, match.filters));
      });
    // An event no engine kept is unpacked into again, with its storage.
    std::shared_ptr<Event> event;
    if (threads_ > 1 || !head.matches.empty())
      event = threads_ > 1 || !spare_event_ ? std::make_shared<Event>() : std::move(spare_event_);
    Released released{std::move(event), std::move(head.matches), {}};
    if (threads_ > 1)
      released.packed = std::move(head.event);
    else if (released.event)
      head.event.unpack(*released.event);
    if (released.event) released.event->order = order_;
    ++order_;
    if (threads_ > 1) {
      batch_.push_back(std::move(released));
      if (batch_.size() >= 4096) run_batch();
    } else if (released.event) {
      // Engines already done were left out above.
      for (const Match& match : released.matches) push(match, released.event);
      if (released.event.use_count() > 1) {  // an engine holds it
        mark_kept();
        settle(*released.event);
      } else {
        spare_event_ = std::move(released.event);
      }
    }
    if (done()) {
      reader_.stop();  // a head limit is reached: the rest of the input cannot matter
      while (!buffer_.empty()) buffer_.pop();
      in_order_.clear();
      while (!quarantine_.empty()) quarantine_.pop();
      buffered_bytes_ = 0;
    }
  }
}

void QueryStream::push(const Match& match, const EventPtr& event) {
  QueryEngine& engine = *engines_[match.engine];
  if (engine.filters().size() <= kMaskedFilters)
    engine.push(event, match.filters);
  else
    engine.push(event);
}

// Engines read an event's values when it is pushed, and keep from it only
// its keys (as copies) and, in partial sequences, samples and results, the
// event itself for output: only the slots read from results (suppression,
// correlation, exceptions) stay, so that held events cost little.
void QueryStream::mark_kept() {
  if (!spool_) spool_ = std::make_unique<DocumentSpool>();
  if (kept_.size() == engine_.fields().size()) return;
  kept_.assign(engine_.fields().size(), false);
  for (uint32_t slot : always_kept_) kept_[slot] = true;
}

void QueryStream::settle(Event& event) {
  event.fields.retain([&](uint32_t slot) { return kept_[slot]; });
  event.fields.shrink_to_fit();
  // A document that cannot be read again (stdin, compressed input) waits on
  // disk; kept in memory when the spool cannot take it.
  if (!event.owned_source.empty() && !event.spooled) {
    if (auto spooled = spool_->store(event.owned_source)) {
      event.spooled = std::move(*spooled);
      std::string().swap(event.owned_source);
    }
  }
}

void QueryStream::flush() {
  for (QueryEngine* engine : engines_) engine->input_ending();
  // At the end of the input, events held ahead join the others, in order.
  while (!quarantine_.empty()) {
    Pending pending = std::move(const_cast<Pending&>(quarantine_.top()));
    quarantine_.pop();
    buffer_event(std::move(pending));
  }
  release(std::numeric_limits<int64_t>::max());
  run_batch();
}

std::vector<QueryResult> QueryStream::finish() {
  flush();
  return engine_.finish();
}

StreamStats QueryStream::stats() const {
  StreamStats stats = stats_;
  stats.malformed = reader_.stats().malformed + stats_.malformed_records;
  stats.prefiltered = reader_.stats().skipped;
  stats.unscanned_inputs = reader_.stats().unscanned;
  stats.events += stats.prefiltered;
  stats.events_by_source[static_cast<size_t>(SourceKind::Ecs)] += stats.prefiltered;
  stats.bytes = reader_.stats().bytes;
  if (spool_) {
    stats.spooled = spool_->stored();
    stats.spool_failures = spool_->failures();
    if (stats.spool_failures > 0) stats.spool_error = spool_->last_error();
  }
  return stats;
}

}  // namespace pickaxe
