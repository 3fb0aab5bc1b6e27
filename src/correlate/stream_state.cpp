// A stream's state written out and read back, for watch's checkpoints: the
// stream's clock and counts, the reorder buffer (each event with the engines
// it goes to) and every engine's QueryState.
#include <fmt/format.h>

#include "correlate/stream.h"
#include "util/binary_io.h"

namespace pickaxe {

namespace {

constexpr StateHeader kHeader{"PXSS", 1, "stream state"};

void put_stats(std::string& out, const StreamStats& stats) {
  for (uint64_t count :
       {stats.events, stats.prefiltered, stats.unscanned_inputs, stats.malformed,
        stats.malformed_records, stats.flawed_records, stats.without_eoe, stats.without_event,
        stats.missing_timestamp, stats.wrong_type, stats.late, stats.held_ahead,
        stats.released_early, stats.seconds_like, stats.spooled, stats.spool_failures, stats.bytes})
    put(out, count);
  put_bytes(out, stats.spool_error);
  for (uint64_t count : stats.events_by_source) put(out, count);
}

bool get_stats(BinaryReader& in, StreamStats& stats) {
  for (uint64_t* count : {&stats.events, &stats.prefiltered, &stats.unscanned_inputs,
                          &stats.malformed, &stats.malformed_records, &stats.flawed_records,
                          &stats.without_eoe, &stats.without_event, &stats.missing_timestamp,
                          &stats.wrong_type, &stats.late, &stats.held_ahead, &stats.released_early,
                          &stats.seconds_like, &stats.spooled, &stats.spool_failures, &stats.bytes})
    if (!in.get(*count)) return false;
  if (!in.bytes(stats.spool_error)) return false;
  for (uint64_t& count : stats.events_by_source)
    if (!in.get(count)) return false;
  return true;
}

// A priority queue's elements, in no order (their order is the queue's to
// restore: events are ordered by time, then arrival, which never ties).
template <typename Queue>
const typename Queue::container_type& elements_of(const Queue& queue) {
  struct Access : Queue {
    static const typename Queue::container_type& of(const Queue& queue) {
      return queue.*(&Access::c);
    }
  };
  return Access::of(queue);
}

}  // namespace

void QueryStream::save(std::string& out) const {
  kHeader.put(out);
  put(out, static_cast<uint64_t>(engines_.size()));
  std::string engine_state;
  for (const QueryEngine* engine : engines_) {
    engine_state.clear();
    engine->state().save(engine_state);
    put_bytes(out, engine_state);
  }
  put(out, newest_);
  put(out, released_);
  put(out, arrivals_);
  put(out, order_);
  put_stats(out, stats_);
  const ReaderStats& reader = reader_.stats();
  for (uint64_t count :
       {reader.documents, reader.malformed, reader.skipped, reader.unscanned, reader.bytes})
    put(out, count);
  // The reorder buffer and the events held ahead, each event whole.
  auto put_pending = [&](const Pending& pending) {
    put(out, pending.timestamp);
    put(out, pending.arrival);
    put(out, static_cast<uint64_t>(pending.matches.size()));
    for (const Match& match : pending.matches) {
      put(out, match.engine);
      put(out, match.filters);
    }
    Event event;
    pending.event.unpack(event);
    write_event(out, event);
  };
  auto put_queue = [&](const auto& queue) {
    put(out, static_cast<uint64_t>(queue.size()));
    for (const Pending& pending : elements_of(queue)) put_pending(pending);
  };
  put(out, static_cast<uint64_t>(in_order_.size()));
  for (const Pending& pending : in_order_) put_pending(pending);
  put_queue(buffer_);
  put_queue(quarantine_);
}

bool QueryStream::load(std::string_view in, std::string* error) {
  auto failed = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  if (!kHeader.get(in, error)) return false;
  BinaryReader reader(in);
  uint64_t engines = 0;
  if (!reader.get(engines) || engines != engines_.size())
    return failed(fmt::format("the state is of {} queries, not {}", engines, engines_.size()));
  for (QueryEngine* engine : engines_) {
    std::string_view bytes;
    QueryState state;
    std::string why;
    if (!reader.bytes(bytes) || !state.load(bytes, &why) ||
        !engine->restore(std::move(state), &why))
      return failed(why.empty() ? "truncated" : why);
  }
  StreamStats stats;
  ReaderStats reader_stats;
  if (!reader.get(newest_) || !reader.get(released_) || !reader.get(arrivals_) ||
      !reader.get(order_) || !get_stats(reader, stats) || !reader.get(reader_stats.documents) ||
      !reader.get(reader_stats.malformed) || !reader.get(reader_stats.skipped) ||
      !reader.get(reader_stats.unscanned) || !reader.get(reader_stats.bytes))
    return failed("truncated");
  stats_ = stats;
  reader_.restore_stats(reader_stats);
  auto get_pending = [&](Pending& pending) {
    uint64_t matches = 0;
    if (!reader.get(pending.timestamp) || !reader.get(pending.arrival) ||
        !reader.count(matches, sizeof(Match)))
      return false;
    for (uint64_t i = 0; i < matches; ++i) {
      Match match{};
      if (!reader.get(match.engine) || !reader.get(match.filters)) return false;
      if (match.engine >= engines_.size()) return reader.fail();
      pending.matches.push_back(match);
    }
    Event event;
    std::string_view rest = reader.rest();
    const size_t before = rest.size();
    if (!read_event(rest, event)) return reader.fail();
    reader.skip(before - rest.size());
    pending.event = PackedEvent(event);
    pending.bytes = buffered_size(pending);
    return true;
  };
  buffered_bytes_ = 0;
  for (int queue = 0; queue < 3; ++queue) {
    uint64_t count = 0;
    if (!reader.count(count, 1)) return failed("truncated");
    for (uint64_t i = 0; i < count; ++i) {
      Pending pending;
      if (!get_pending(pending)) return failed("an event of the reorder buffer is damaged");
      if (queue == 2) {
        quarantine_.push(std::move(pending));
        continue;
      }
      buffered_bytes_ += pending.bytes;
      if (queue == 0)
        in_order_.push_back(std::move(pending));
      else
        buffer_.push(std::move(pending));
    }
  }
  if (!reader.at_end()) return failed("trailing bytes");
  return true;
}

}  // namespace pickaxe
