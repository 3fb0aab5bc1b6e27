// Sample keys on disk. A sample without maxspan may complete with the last
// event, so every key waits until the input ends; a flood of keys (one per
// process, say) would grow memory with the input. Past a number of keys in
// memory, they are written out as a run sorted by packed key, in chunks, to
// an unlinked temporary file, and memory starts again. At the end (and at a
// checkpoint) the runs and memory are merged key by key, older runs first,
// so that each key's events come in the order they came.
//
// A record: key (bytes), since (u64), the key's distinct events (u32 count,
// then each: u8 mapped, with the document's address and size (u64) when it
// lies in an input's mapping, then the event as write_event writes it,
// without that document), then its (step, event) pairs (u32 count, then u32
// step and u32 index into those events). Runs live only as long as the
// process: they are never read by another.
#include <algorithm>

#include <fmt/format.h>

#include "correlate/engine.h"
#include "util/binary_io.h"

namespace pickaxe {

namespace {

constexpr size_t kChunkBytes = size_t{64} << 10;

void put_record(std::string& out, std::string_view key, const QueryState::SampleKey& sample) {
  put_bytes(out, key);
  put(out, sample.since);
  std::vector<const Event*> distinct;  // an event of several steps is written once
  std::vector<uint32_t> index;
  for (const auto& [step, event] : sample.events) {
    auto at = std::find(distinct.begin(), distinct.end(), event.get());
    if (at == distinct.end()) at = distinct.insert(distinct.end(), event.get());
    index.push_back(static_cast<uint32_t>(at - distinct.begin()));
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
  put(out, static_cast<uint32_t>(sample.events.size()));
  for (size_t i = 0; i < sample.events.size(); ++i) {
    put(out, sample.events[i].first);
    put(out, index[i]);
  }
}

bool get_record(std::string_view& in, std::string& key, QueryState::SampleKey& sample) {
  BinaryReader reader(in);
  uint32_t count = 0;
  if (!reader.bytes(key) || !reader.get(sample.since) || !reader.get(count)) return false;
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
  if (!reader.get(count)) return false;
  sample.events.clear();
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t step = 0, index = 0;
    if (!reader.get(step) || !reader.get(index) || index >= distinct.size()) return false;
    sample.events.emplace_back(step, distinct[index]);
  }
  in.remove_prefix(reader.offset());
  return true;
}

// Reads one run's records in order, a chunk at a time.
class RunReader {
 public:
  explicit RunReader(const QueryState::SampleRun& run) : run_(run) {}
  // The next record; false at the end, or when the run cannot be read back.
  bool next(std::string& key, QueryState::SampleKey& sample) {
    while (rest_.empty()) {
      if (next_chunk_ == run_.size()) return false;
      if (!run_[next_chunk_++].read(chunk_)) return fail();
      rest_ = chunk_;
    }
    return get_record(rest_, key, sample) || fail();
  }
  bool failed() const { return failed_; }

 private:
  bool fail() {
    failed_ = true;
    rest_ = {};
    next_chunk_ = run_.size();
    return false;
  }
  const QueryState::SampleRun& run_;
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
  bool flush() {
    if (buffer_.empty()) return true;
    std::optional<SpooledDocument> stored = spool_.store(buffer_);
    if (!stored) return false;
    run_.push_back(std::move(*stored));
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

// The keys in memory, in the order of a run.
std::vector<const SampleEntry*> in_key_order(
    const std::unordered_map<std::string, QueryState::SampleKey>& samples) {
  std::vector<const SampleEntry*> sorted;
  sorted.reserve(samples.size());
  for (const SampleEntry& entry : samples) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const SampleEntry* a, const SampleEntry* b) { return a->first < b->first; });
  return sorted;
}

}  // namespace

bool QueryState::each_sample(const SampleVisitor& visit, std::string* error) const {
  // Sources in age order: the runs, then memory (sorted here).
  const std::vector<const SampleEntry*> in_memory = in_key_order(samples);
  struct Source {
    std::optional<RunReader> reader;  // none: memory
    size_t next_in_memory = 0;
    bool has = false;
    std::string key;
    SampleKey sample;
  };
  std::vector<Source> sources(sample_runs.size() + 1);
  auto advance = [&](Source& source) {
    if (source.reader) {
      source.has = source.reader->next(source.key, source.sample);
    } else if ((source.has = source.next_in_memory < in_memory.size())) {
      const auto& [key, sample] = *in_memory[source.next_in_memory++];
      source.key = key;
      source.sample = sample;
    }
  };
  for (size_t i = 0; i < sample_runs.size(); ++i) sources[i].reader.emplace(sample_runs[i]);
  for (Source& source : sources) advance(source);
  for (;;) {
    const Source* least = nullptr;
    for (const Source& source : sources)
      if (source.has && (!least || source.key < least->key)) least = &source;
    if (!least) break;
    std::string key = least->key;
    SampleKey merged;
    merged.since = UINT64_MAX;
    std::vector<size_t> per_step;
    for (Source& source : sources) {
      if (!source.has || source.key != key) continue;
      merged.since = std::min(merged.since, source.sample.since);
      for (auto& [step, event] : source.sample.events) {
        if (step >= per_step.size()) per_step.resize(step + 1, 0);
        if (per_step[step] >= sample_step_cap) continue;
        if (per_step[step]++ == 0) ++merged.steps_matched;
        merged.events.emplace_back(step, std::move(event));
      }
      advance(source);
    }
    if (!visit(std::move(key), std::move(merged))) break;
  }
  for (size_t i = 0; i < sample_runs.size(); ++i) {
    if (!sources[i].reader->failed()) continue;
    if (error) *error = fmt::format("sample keys kept on disk (run {}) cannot be read back", i + 1);
    return false;
  }
  return true;
}

bool QueryState::spill_samples(DocumentSpool& spool, size_t max_runs, std::string* error) {
  RunWriter writer(spool);
  bool written = true;
  const bool merge_all = sample_runs.size() + 1 >= max_runs;
  if (merge_all) {
    bool readable = each_sample(
        [&](std::string&& key, SampleKey&& sample) { return written = writer.add(key, sample); },
        error);
    if (!readable) return false;
  } else {
    for (const SampleEntry* entry : in_key_order(samples))
      if (!(written = writer.add(entry->first, entry->second))) break;
  }
  if (!written || !writer.flush()) {
    if (error) *error = spool.last_error();
    return false;
  }
  if (merge_all) sample_runs.clear();
  sample_runs.push_back(std::move(writer.run()));
  samples.clear();
  return true;
}

}  // namespace pickaxe
