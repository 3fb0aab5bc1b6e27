#include "correlate/stream.h"

#include <fmt/format.h>

#include "match/patterns.h"

namespace pickaxe {

QueryStream::QueryStream(QueryEngine& engine, const Schema& schema, StreamOptions options,
                         JsonEventReader::ProblemHandler on_problem)
    : QueryStream(std::vector<QueryEngine*>{&engine}, schema, options, std::move(on_problem)) {}

QueryStream::QueryStream(std::vector<QueryEngine*> engines, const Schema& schema,
                         StreamOptions options, JsonEventReader::ProblemHandler on_problem)
    : engines_(std::move(engines)),
      engine_(*engines_.front()),
      schema_(schema),
      options_(options),
      on_problem_(on_problem),
      reader_(options.reader, on_problem),
      buffer_(Later{this}) {}

bool QueryStream::Later::operator()(const Pending& a, const Pending& b) const {
  if (a.event->timestamp != b.event->timestamp) return a.event->timestamp > b.event->timestamp;
  if (auto slot = stream->engine_.tiebreaker_slot()) {
    const Values& x = a.event->fields[*slot];
    const Values& y = b.event->fields[*slot];
    if (!x.empty() && !y.empty() && !(x[0] == y[0])) return y[0] < x[0];
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
  reader_.read(in, name,
               [&](simdjson::dom::element document, std::string_view text, uint64_t line) {
                 accept(document, text, line, name);
               });
}

std::optional<std::string> QueryStream::type_problem(const Event& event) const {
  const FieldIndex& fields = engine_.fields();
  for (uint32_t slot = 0; slot < fields.size(); ++slot) {
    auto type = schema_.type(fields.path(slot));
    if (!type) continue;
    for (const Scalar& value : event.fields[slot]) {
      bool ok = true;
      std::string_view expected;
      switch (*type) {
        case FieldType::Long:
        case FieldType::Double:
          ok = value.is_number();
          expected = "a number";
          break;
        case FieldType::Boolean:
          ok = value.type == Scalar::Type::Bool;
          expected = "true or false";
          break;
        case FieldType::Ip:
          ok = value.type == Scalar::Type::String && parse_ip(value.string).has_value();
          expected = "an IP address";
          break;
        case FieldType::Date:
          ok = value.is_number() ||
               (value.type == Scalar::Type::String && parse_timestamp(value.string));
          expected = "a date";
          break;
        default: break;
      }
      if (!ok) {
        return fmt::format("field {} is {}, not {}; event skipped", fields.path(slot),
                           value.type == Scalar::Type::String ? fmt::format("\"{}\"", value.string)
                                                              : value.to_string(),
                           expected);
      }
    }
  }
  return std::nullopt;
}

void QueryStream::accept(simdjson::dom::element document, std::string_view text, uint64_t line,
                         const std::string& name) {
  auto event = std::make_shared<Event>();
  extract_fields(document, engine_.fields(), schema_, *event);
  event->source = std::string(text);
  event->line = line;
  const Values& stamp = event->fields[engine_.timestamp_slot()];
  std::optional<int64_t> timestamp;
  if (!stamp.empty()) {
    const Scalar& value = stamp.front();
    timestamp = millis_to_nanos(value);
  }
  if (!timestamp) {
    ++stats_.missing_timestamp;
    if (on_problem_)
      on_problem_({name, line,
                   stamp.empty() ? fmt::format("no {}; event skipped",
                                               engine_.fields().path(engine_.timestamp_slot()))
                                 : fmt::format("{} is not a date; event skipped",
                                               engine_.fields().path(engine_.timestamp_slot()))});
    return;
  }
  if (auto problem = type_problem(*event)) {
    ++stats_.wrong_type;
    if (on_problem_) on_problem_({name, line, *problem});
    return;
  }
  event->timestamp = *timestamp;
  event->has_timestamp = true;
  if (*timestamp < released_) ++stats_.late;  // too late to sort: processed as it comes
  newest_ = std::max(newest_, *timestamp);
  buffer_.push({std::move(event), arrivals_++});
  int64_t horizon;
  if (__builtin_sub_overflow(newest_, options_.max_lateness, &horizon))
    horizon = std::numeric_limits<int64_t>::min();
  release(horizon);
}

void QueryStream::release(int64_t up_to) {
  while (!buffer_.empty() && buffer_.top().event->timestamp <= up_to) {
    auto event = std::const_pointer_cast<Event>(buffer_.top().event);
    buffer_.pop();
    event->order = order_++;
    released_ = std::max(released_, event->timestamp);
    ++stats_.events;
    for (QueryEngine* engine : engines_) {
      if (!engine->done()) engine->push(event);
    }
    if (done()) {
      reader_.stop();  // a head limit is reached: the rest of the input cannot matter
      while (!buffer_.empty()) buffer_.pop();
    }
  }
}

void QueryStream::flush() {
  release(std::numeric_limits<int64_t>::max());
}

std::vector<QueryResult> QueryStream::finish() {
  flush();
  return engine_.finish();
}

StreamStats QueryStream::stats() const {
  StreamStats stats = stats_;
  stats.malformed = reader_.stats().malformed;
  stats.bytes = reader_.stats().bytes;
  return stats;
}

}  // namespace pickaxe
