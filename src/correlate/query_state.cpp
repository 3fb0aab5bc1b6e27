// A partition's query state written out and read back: a checkpoint. The
// events the state holds are written once each (a table), and referred to
// by their place in it, so that an event shared by several partials stays
// one event.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "correlate/engine.h"
#include "event/packed_event.h"
#include "util/binary_io.h"

namespace pickaxe {

namespace {

constexpr StateHeader kHeader{"PXQS", 2, "query state"};
constexpr uint32_t kNoEvent = UINT32_MAX;  // a missing-event step in a result

void put_key(std::string& out, const std::vector<Scalar>& key) {
  put(out, static_cast<uint32_t>(key.size()));
  for (const Scalar& value : key) pack_value(out, value);
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  uint32_t id(const EventPtr& event) {
    if (!event) return kNoEvent;
    auto [it, added] = ids_.try_emplace(event.get(), static_cast<uint32_t>(events_.size()));
    if (added) events_.push_back(event.get());
    return it->second;
  }
  void put_events(std::string& body, const std::vector<EventPtr>& events) {
    put(body, static_cast<uint32_t>(events.size()));
    for (const EventPtr& event : events) put(body, id(event));
  }
  // The event table, then the body that refers to it.
  void finish(const std::string& body) {
    put(out_, static_cast<uint64_t>(events_.size()));
    for (const Event* event : events_) write_event(out_, *event);
    out_.append(body);
  }

 private:
  std::string& out_;
  std::unordered_map<const Event*, uint32_t> ids_;
  std::vector<const Event*> events_;
};

// Reads fields from the front of the checkpoint; the first failure sticks.
class Reader : public BinaryReader {
 public:
  using BinaryReader::BinaryReader;
  using BinaryReader::count;
  bool count(uint32_t& value, size_t least) {
    return get(value) && (value <= rest().size() / std::max<size_t>(least, 1) || fail());
  }
  bool key(std::vector<Scalar>& key) {
    uint32_t size = 0;
    if (!count(size, 1)) return false;
    key.clear();
    for (uint32_t i = 0; i < size; ++i) {
      std::string_view in = rest();
      const size_t before = in.size();
      std::optional<Scalar> value = unpack_value(in);
      // Keys come from JSON values, never NaN (which no ordering could hold).
      if (!value || (value->type == Scalar::Type::Double && std::isnan(value->number)))
        return fail();
      skip(before - in.size());
      key.push_back(std::move(*value));
    }
    return true;
  }
  bool event(Event& event) {
    std::string_view in = rest();
    const size_t before = in.size();
    if (failed() || !read_event(in, event)) return fail();
    skip(before - in.size());
    return true;
  }
  bool events(const std::vector<EventPtr>& table, std::vector<EventPtr>& out) {
    uint32_t size = 0;
    if (!count(size, sizeof(uint32_t))) return false;
    out.clear();
    for (uint32_t i = 0; i < size; ++i) {
      uint32_t id = 0;
      if (!get(id)) return false;
      if (id == kNoEvent) {
        out.push_back(nullptr);
      } else if (id < table.size()) {
        out.push_back(table[id]);
      } else {
        return fail();
      }
    }
    return true;
  }
};

}  // namespace

size_t QueryState::SampleKey::count(uint32_t step) const {
  return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                           [&](const auto& held) { return held.first == step; }));
}

std::vector<const QueryState::Sequence*> QueryState::sequences_in_order() const {
  return entries_in_key_order(sequences);
}

void QueryState::save(std::string& out) const {
  kHeader.put(out);
  Writer writer(out);
  std::string body;
  put(body, static_cast<uint64_t>(sequences.size()));
  for (const Sequence* sequence : sequences_in_order()) {
    const auto& [key, state] = *sequence;
    put_key(body, key);
    put(body, static_cast<uint32_t>(state.stages.size()));
    for (const std::optional<Partial>& partial : state.stages) {
      put(body, static_cast<uint8_t>(partial.has_value()));
      if (!partial) continue;
      put(body, partial->start);
      writer.put_events(body, partial->events);
    }
  }
  put(body, static_cast<uint64_t>(live_partials));
  put(body, since_sweep);
  put(body, sweep_every);
  put(body, static_cast<uint64_t>(missing_hits.size()));
  for (const auto& [key, stages] : missing_hits) {
    put_key(body, key);
    put(body, static_cast<uint32_t>(stages.size()));
    for (const std::vector<EventPtr>& hits : stages) writer.put_events(body, hits);
  }
  put(body, static_cast<uint64_t>(completed.size()));
  for (const auto& [result, key] : completed) {
    writer.put_events(body, result.events);
    put_key(body, result.join_keys);
    put_key(body, key);
  }
  put(body, static_cast<uint64_t>(completed_keys.size()));
  for (const std::vector<Scalar>& key : completed_keys) put_key(body, key);
  // Samples in key order, those on disk merged back: the same state always
  // writes the same bytes. (A run that cannot be read back gives what it
  // could; the engine counts it as dropped at the end.)
  std::vector<std::pair<std::string, SampleKey>> sorted;
  each_sample([&](std::string&& key, SampleKey&& sample) {
    sorted.emplace_back(std::move(key), std::move(sample));
    return true;
  });
  put(body, static_cast<uint64_t>(sorted.size()));
  for (const auto& [key, sample] : sorted) {
    put_bytes(body, key);
    put(body, sample.since);
    put(body, sample.steps_matched);
    put(body, static_cast<uint32_t>(sample.events.size()));
    for (const auto& [step, event] : sample.events) {
      put(body, step);
      put(body, writer.id(event));
    }
  }
  put(body, stats.events);
  put(body, stats.state_evictions);
  put(body, stats.expired);
  put(body, stats.peak_partials);
  put(body, static_cast<uint64_t>(emitted));
  put(body, since_sweep);
  put(body, sweep_every);
  put(body, swept_at);  // last: a state written before it had none
  writer.finish(body);
}

bool QueryState::load(std::string_view in, std::string* error) {
  auto failed = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  if (!kHeader.get(in, error)) return false;
  Reader reader(in);
  QueryState state;
  uint64_t count = 0;
  std::vector<EventPtr> table;
  if (!reader.count(count, 1)) return failed("truncated event table");
  for (uint64_t i = 0; i < count; ++i) {
    auto event = std::make_shared<Event>();
    if (!reader.event(*event))
      return failed(
          fmt::format("event {} is damaged (byte {})", i, reader.failed_at() + StateHeader::kSize));
    table.push_back(std::move(event));
  }
  bool ok = reader.count(count, 1);
  for (uint64_t i = 0; ok && i < count; ++i) {
    std::vector<Scalar> key;
    uint32_t stages = 0;
    ok = reader.key(key) && reader.count(stages, 1);
    KeyState key_state;
    for (uint32_t s = 0; ok && s < stages; ++s) {
      uint8_t present = 0;
      ok = reader.get(present);
      std::optional<Partial> partial;
      if (ok && present) {
        partial.emplace();
        ok = reader.get(partial->start) && reader.events(table, partial->events);
      }
      key_state.stages.push_back(std::move(partial));
    }
    if (ok) state.sequences.emplace(std::move(key), std::move(key_state));
  }
  uint64_t live = 0;
  ok = ok && reader.get(live) && reader.get(state.since_sweep) && reader.get(state.sweep_every);
  state.live_partials = live;
  ok = ok && reader.count(count, 1);
  for (uint64_t i = 0; ok && i < count; ++i) {
    std::vector<Scalar> key;
    uint32_t stages = 0;
    ok = reader.key(key) && reader.count(stages, sizeof(uint32_t));
    std::vector<std::vector<EventPtr>> hits(ok ? stages : 0);
    for (uint32_t s = 0; ok && s < stages; ++s) ok = reader.events(table, hits[s]);
    if (ok) state.missing_hits.emplace(std::move(key), std::move(hits));
  }
  ok = ok && reader.count(count, 1);
  for (uint64_t i = 0; ok && i < count; ++i) {
    QueryResult result;
    std::vector<Scalar> key;
    ok = reader.events(table, result.events) && reader.key(result.join_keys) && reader.key(key);
    if (ok) state.completed.emplace_back(std::move(result), std::move(key));
  }
  ok = ok && reader.count(count, 1);
  for (uint64_t i = 0; ok && i < count; ++i) {
    std::vector<Scalar> key;
    ok = reader.key(key);
    if (ok) state.completed_keys.insert(std::move(key));
  }
  ok = ok && reader.count(count, 1);
  for (uint64_t i = 0; ok && i < count; ++i) {
    std::string key;
    SampleKey sample;
    uint32_t held = 0;
    ok = reader.bytes(key) && reader.get(sample.since) && reader.get(sample.steps_matched) &&
         reader.count(held, 2 * sizeof(uint32_t));
    for (uint32_t e = 0; ok && e < held; ++e) {
      uint32_t step = 0, id = 0;
      ok = reader.get(step) && reader.get(id) && (id < table.size() || reader.fail());
      if (ok) sample.events.emplace_back(step, table[id]);
    }
    if (ok) state.samples.emplace(std::move(key), std::move(sample));
  }
  uint64_t emitted_count = 0;
  ok = ok && reader.get(state.stats.events) && reader.get(state.stats.state_evictions) &&
       reader.get(state.stats.expired) && reader.get(state.stats.peak_partials) &&
       reader.get(emitted_count) && reader.get(state.since_sweep) &&
       reader.get(state.sweep_every) && (state.sweep_every > 0 || reader.fail());
  // A state written before swept_at was kept sweeps by clock at its first chance.
  ok = ok && (reader.at_end() || reader.get(state.swept_at));
  state.emitted = emitted_count;
  if (!ok)
    return failed(
        fmt::format("query state is damaged at byte {}", reader.failed_at() + StateHeader::kSize));
  if (!reader.at_end()) return failed("query state has bytes after its end");
  *this = std::move(state);
  return true;
}

}  // namespace pickaxe
