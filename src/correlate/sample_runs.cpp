// Sample keys on disk. A sample without maxspan may complete with the last
// event, so every key waits until the input ends; a flood of keys (one per
// process, say) would grow memory with the input. Past a number of keys in
// memory, they are written out as a run sorted by packed key, in chunks, to
// an unlinked temporary file, and memory starts again. Runs are merged by
// tiers, the newest of a tier together, so the runs stay in age order and
// few, and each key is rewritten once per tier. At the end (and at a
// checkpoint) the runs and memory are merged key by key, older runs first,
// so that each key's events come in the order they came.
//
// A record: its length (u64), key (bytes), since (u64), its (step, event)
// pairs (u64 count, then u32 step and u32 index into the events below),
// then the key's distinct events (u32 count, then each: u8 mapped, with the
// document's address and size (u64) when it lies in an input's mapping,
// then the event as write_event writes it, without that document). The
// steps come first so that a merge can tell what a key holds without
// reading its events, and a key found in one run only is copied as it is.
// Runs live only as long as the process: they are never read by another.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "correlate/engine.h"
#include "util/binary_io.h"

namespace pickaxe {

namespace {

constexpr size_t kChunkBytes = size_t{64} << 10;

void put_record(std::string& out, std::string_view key, const QueryState::SampleKey& sample) {
  const size_t start = out.size();
  put(out, uint64_t{0});  // the length, filled in at the end
  put_bytes(out, key);
  put(out, sample.since);
  std::vector<const Event*> distinct;  // an event of several steps is written once
  put(out, static_cast<uint64_t>(sample.events.size()));
  for (const auto& [step, event] : sample.events) {
    auto at = std::find(distinct.begin(), distinct.end(), event.get());
    if (at == distinct.end()) at = distinct.insert(distinct.end(), event.get());
    put(out, step);
    put(out, static_cast<uint32_t>(at - distinct.begin()));
  }
  put(out, static_cast<uint32_t>(distinct.size()));
  for (const Event* event : distinct) {
    // A document in an input's mapping stays there: the run keeps where it
    // is (the mapping outlives the state, as for an event in memory), so that
    // writing a run does not read old pages of the input back in.
    const bool mapped = event->mapped_source.data() != nullptr;
    put(out, static_cast<uint8_t>(mapped));
    if (mapped) {
      put(out, reinterpret_cast<uintptr_t>(event->mapped_source.data()));
      put(out, static_cast<uint64_t>(event->mapped_source.size()));
    }
    write_event(out, *event, !mapped);
  }
  const uint64_t length = out.size() - start - sizeof(uint64_t);
  std::memcpy(out.data() + start, &length, sizeof(length));
}

// A record as a run holds it: views into the chunk read, valid until the
// reader moves on.
struct RunRecord {
  std::string_view whole;  // the record, its length included
  std::string_view key;
  uint64_t since = 0;
  std::string_view pairs;   // u32 step and u32 event index each
  std::string_view events;  // u32 count, then the events
  size_t pair_count() const { return pairs.size() / (2 * sizeof(uint32_t)); }
  uint32_t step(size_t pair) const {
    uint32_t step = 0;
    std::memcpy(&step, pairs.data() + pair * 2 * sizeof(uint32_t), sizeof(step));
    return step;
  }
};

// Takes the next record off `in`, reading only its key, since and steps
// (each below `steps`, the query's).
bool split_record(std::string_view& in, size_t steps, RunRecord& record) {
  BinaryReader reader(in);
  uint64_t length = 0, pairs = 0;
  if (!reader.get(length) || length > reader.rest().size()) return false;
  record.whole = in.substr(0, reader.offset() + length);
  BinaryReader body(record.whole.substr(reader.offset()));
  if (!body.bytes(record.key) || !body.get(record.since) ||
      !body.count(pairs, 2 * sizeof(uint32_t)))
    return false;
  const std::string_view rest = body.rest();
  record.pairs = rest.substr(0, pairs * 2 * sizeof(uint32_t));
  record.events = rest.substr(record.pairs.size());
  for (size_t pair = 0; pair < record.pair_count(); ++pair)
    if (record.step(pair) >= steps) return false;
  in.remove_prefix(record.whole.size());
  return true;
}

// Appends the record's (step, event) pairs to `out`, reading its events.
bool read_pairs(const RunRecord& record, std::vector<std::pair<uint32_t, EventPtr>>& out) {
  BinaryReader reader(record.events);
  uint32_t count = 0;
  if (!reader.get(count)) return false;
  std::vector<EventPtr> distinct;
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t mapped = 0;
    uintptr_t data = 0;
    uint64_t size = 0;
    if (!reader.get(mapped) || (mapped && (!reader.get(data) || !reader.get(size)))) return false;
    std::string_view rest = reader.rest();
    const size_t before = rest.size();
    auto event = std::make_shared<Event>();
    if (!read_event(rest, *event)) return false;
    reader.skip(before - rest.size());
    if (mapped) event->mapped_source = {reinterpret_cast<const char*>(data), size};
    distinct.push_back(std::move(event));
  }
  if (!reader.at_end()) return false;
  for (size_t pair = 0; pair < record.pair_count(); ++pair) {
    uint32_t index = 0;
    std::memcpy(&index, record.pairs.data() + (2 * pair + 1) * sizeof(uint32_t), sizeof(index));
    if (index >= distinct.size()) return false;
    out.emplace_back(record.step(pair), distinct[index]);
  }
  return true;
}

// Reads one run's records in order, a chunk at a time.
class RunReader {
 public:
  RunReader(const QueryState::SampleRun& run, size_t steps) : run_(run), steps_(steps) {}
  // The next record; false at the end, or when the run cannot be read back.
  bool next(RunRecord& record) {
    while (rest_.empty()) {
      if (next_chunk_ == run_.chunks.size()) return false;
      if (!run_.chunks[next_chunk_++].read(chunk_)) return fail();
      rest_ = chunk_;
    }
    return split_record(rest_, steps_, record) || fail();
  }
  bool failed() const { return failed_; }
  bool fail() {
    failed_ = true;
    rest_ = {};
    next_chunk_ = run_.chunks.size();
    return false;
  }

 private:
  const QueryState::SampleRun& run_;
  size_t steps_;
  size_t next_chunk_ = 0;
  std::string chunk_;
  std::string_view rest_;
  bool failed_ = false;
};

// Writes records into chunks of about kChunkBytes.
class RunWriter {
 public:
  explicit RunWriter(DocumentSpool& spool) : spool_(spool) {}
  bool add(std::string_view key, const QueryState::SampleKey& sample) {
    put_record(buffer_, key, sample);
    return buffer_.size() < kChunkBytes || flush();
  }
  // A record of another run, as it is.
  bool add(const RunRecord& record) {
    buffer_.append(record.whole);
    return buffer_.size() < kChunkBytes || flush();
  }
  bool flush() {
    if (buffer_.empty()) return true;
    std::optional<SpooledDocument> stored = spool_.store(buffer_);
    if (!stored) return false;
    run_.chunks.push_back(std::move(*stored));
    buffer_.clear();
    return true;
  }
  QueryState::SampleRun& run() { return run_; }

 private:
  DocumentSpool& spool_;
  std::string buffer_;
  QueryState::SampleRun run_;
};

using SampleEntry = std::pair<const std::string, QueryState::SampleKey>;

// Runs from `first_run` on (oldest first), and memory when asked, merged
// key by key. Each key's events are told without reading them
// (steps_matched), and read only when asked.
class SampleMerge {
 public:
  SampleMerge(const QueryState& state, size_t first_run, bool with_memory)
      : first_run_(first_run), cap_(state.sample_step_cap) {
    for (size_t i = first_run; i < state.sample_runs.size(); ++i)
      sources_.emplace_back().reader.emplace(state.sample_runs[i], state.sample_steps);
    if (with_memory) {
      in_memory_ = entries_in_key_order(state.samples);
      sources_.emplace_back();
    }
    for (size_t i = 0; i < sources_.size(); ++i) sources_[i].age = i;
    for (Source& source : sources_) {
      advance(source);
      if (source.has) push(&source);
    }
  }
  // Moves to the next key; false at the end. A run that fails (all_read)
  // gives no more keys; the others go on.
  bool next() {
    for (Source* source : current_) {
      advance(*source);
      if (source->has) push(source);
    }
    current_.clear();
    if (heap_.empty()) return false;
    // The least key, from every source holding it, in age order.
    do {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      current_.push_back(heap_.back());
      heap_.pop_back();
    } while (!heap_.empty() && heap_.front()->key == current_.front()->key);
    return true;
  }
  std::string_view key() const { return current_.front()->key; }
  // The key's record, when one run holds the key and nothing else does.
  const RunRecord* lone_record() const {
    return current_.size() == 1 && current_.front()->reader ? &current_.front()->record : nullptr;
  }
  // The key's events, when memory holds the key and no run does.
  const QueryState::SampleKey* lone_entry() const {
    return current_.size() == 1 && !current_.front()->reader ? &current_.front()->entry->second
                                                             : nullptr;
  }
  // The steps with an event once merged.
  uint32_t steps_matched() {
    per_step_.clear();
    uint32_t matched = 0;
    for (const Source* source : current_) {
      if (source->reader) {
        for (size_t pair = 0; pair < source->record.pair_count(); ++pair)
          kept(source->record.step(pair), matched);
      } else {
        for (const auto& event : source->entry->second.events) kept(event.first, matched);
      }
    }
    return matched;
  }
  // The key's events, merged; false when a run's record is damaged: that
  // run is left out (all_read), from this key on.
  bool merged(QueryState::SampleKey& out) {
    out = {};
    out.since = UINT64_MAX;
    per_step_.clear();
    bool whole = true;
    auto add = [&](const std::vector<std::pair<uint32_t, EventPtr>>& events) {
      for (const auto& [step, event] : events)
        if (kept(step, out.steps_matched)) out.events.emplace_back(step, event);
    };
    for (Source* source : current_) {
      if (!source->reader) {
        out.since = std::min(out.since, source->entry->second.since);
        add(source->entry->second.events);
        continue;
      }
      pairs_.clear();
      if (!read_pairs(source->record, pairs_)) {
        whole = source->reader->fail();
        continue;
      }
      out.since = std::min(out.since, source->record.since);
      add(pairs_);
    }
    return whole;
  }
  // False, with which run, when a run could not be read back.
  bool all_read(std::string* error) const {
    for (size_t i = 0; i < sources_.size(); ++i) {
      if (!sources_[i].reader || !sources_[i].reader->failed()) continue;
      if (error)
        *error = fmt::format("sample keys kept on disk (run {}) cannot be read back",
                             first_run_ + i + 1);
      return false;
    }
    return true;
  }

 private:
  struct Source {
    size_t age = 0;                   // its place in sources_: older first
    std::optional<RunReader> reader;  // none: memory
    size_t next_in_memory = 0;
    bool has = false;
    std::string_view key;
    RunRecord record;                    // from a run
    const SampleEntry* entry = nullptr;  // from memory
  };
  // Order of the heap of sources: the least key on top, the oldest first.
  struct Later {
    bool operator()(const Source* a, const Source* b) const {
      if (int order = a->key.compare(b->key)) return order > 0;
      return a->age > b->age;
    }
  };
  void push(Source* source) {
    heap_.push_back(source);
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  void advance(Source& source) {
    if (source.reader) {
      source.has = source.reader->next(source.record);
      source.key = source.record.key;
    } else if ((source.has = source.next_in_memory < in_memory_.size())) {
      source.entry = in_memory_[source.next_in_memory++];
      source.key = source.entry->first;
    }
  }
  // Whether an event of `step` is kept, capped per step as push_sample caps;
  // the step's first counts toward `matched`.
  bool kept(uint32_t step, uint32_t& matched) {
    if (step >= per_step_.size()) per_step_.resize(step + 1, 0);
    if (per_step_[step] >= cap_) return false;
    if (per_step_[step]++ == 0) ++matched;
    return true;
  }
  size_t first_run_;
  std::vector<const SampleEntry*> in_memory_;
  size_t cap_;
  std::vector<Source> sources_;
  std::vector<Source*> heap_;     // the sources with a key, not current
  std::vector<Source*> current_;  // the sources holding the current key
  std::vector<size_t> per_step_;
  std::vector<std::pair<uint32_t, EventPtr>> pairs_;
};

}  // namespace

bool QueryState::each_sample(const SampleVisitor& visit, std::string* error,
                             const StepsWanted& wanted) const {
  SampleMerge merge(*this, 0, true);
  while (merge.next()) {
    if (wanted && !wanted(merge.steps_matched())) continue;
    SampleKey sample;
    merge.merged(sample);  // a damaged record's run is said below
    if (sample.events.empty()) continue;
    if (!visit(std::string(merge.key()), std::move(sample))) break;
  }
  return merge.all_read(error);
}

// Runs from `first_run` on, and memory when asked, merged into one run of
// `tier` in their place. A key that one run alone holds is copied as it is,
// its events unread.
static bool merge_runs(QueryState& state, DocumentSpool& spool, size_t first_run, bool with_memory,
                       uint32_t tier, std::string* error) {
  RunWriter writer(spool);
  bool written = true;
  SampleMerge merge(state, first_run, with_memory);
  QueryState::SampleKey sample;
  while (written && merge.next()) {
    if (const RunRecord* record = merge.lone_record())
      written = writer.add(*record);
    else if (const QueryState::SampleKey* entry = merge.lone_entry())
      written = writer.add(merge.key(), *entry);
    else
      written = merge.merged(sample) && writer.add(merge.key(), sample);
  }
  if (!merge.all_read(error)) return false;
  if (!written || !writer.flush()) {
    if (error) *error = spool.last_error();
    return false;
  }
  state.sample_runs.resize(first_run);
  writer.run().tier = tier;
  state.sample_runs.push_back(std::move(writer.run()));
  if (with_memory) state.samples.clear();
  return true;
}

size_t QueryState::newest_runs_of_tier(uint32_t tier) const {
  size_t count = 0;
  while (count < sample_runs.size() && sample_runs[sample_runs.size() - 1 - count].tier == tier)
    ++count;
  return count;
}

bool QueryState::spill_samples(DocumentSpool& spool, size_t fan_in, size_t max_runs,
                               std::string* error) {
  // Memory joins the newest runs of tier 0 when it makes them fan_in.
  const bool tiers = fan_in > 1;
  const bool joins = tiers && newest_runs_of_tier(0) >= fan_in - 1;
  const size_t first = sample_runs.size() - (joins ? fan_in - 1 : 0);
  if (!merge_runs(*this, spool, first, true, joins ? 1 : 0, error)) return false;
  // Memory is on disk. As long as the newest fan_in runs share a tier, they
  // become one of the next; then past max_runs, all become one.
  for (uint32_t tier = joins ? 1 : 0; tiers && newest_runs_of_tier(tier) >= fan_in; ++tier)
    if (!merge_runs(*this, spool, sample_runs.size() - fan_in, false, tier + 1, error))
      return false;
  if (sample_runs.size() < max_runs) return true;
  uint32_t top = 0;
  for (const SampleRun& run : sample_runs) top = std::max(top, run.tier);
  return merge_runs(*this, spool, 0, false, top + 1, error);
}

}  // namespace pickaxe
