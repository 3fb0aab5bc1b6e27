// `pickaxe query QUERY [FILE...]`: run one EQL query over JSON events.
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "correlate/stream.h"
#include "eql/functions.h"
#include "eql/parser.h"
#include "util/json_writer.h"
#include "util/output.h"
#include "util/signals.h"

namespace pickaxe::cli {

namespace {

struct QueryOptions {
  std::string query;
  std::vector<std::string> files;
  std::string timestamp_field = "@timestamp";
  std::string tiebreaker_field;
  std::string category_field = "event.category";
  int64_t size = -1;
  std::string result_position = "head";
  size_t max_samples_per_key = 1;
  StreamFlags stream;
};

}  // namespace

std::optional<int64_t> parse_duration(const std::string& text) {
  if (text == "0") return 0;
  if (text == "none" || text == "unbounded") return std::numeric_limits<int64_t>::max();
  std::optional<eql::Duration> duration = eql::parse_duration(text);
  if (!duration) return std::nullopt;
  return duration->nanoseconds();
}

namespace {

void write_scalar(JsonWriter& json, const Scalar& value) {
  switch (value.type) {
    case Scalar::Type::Null: json.null(); break;
    case Scalar::Type::Bool: json.value(value.boolean); break;
    case Scalar::Type::Long: json.value(value.integer); break;
    case Scalar::Type::Double: json.raw(value.to_string()); break;
    case Scalar::Type::String: json.value(value.string); break;
  }
}

int run_query(const QueryOptions& options) {
  auto source = std::make_shared<SourceFile>("<query>", options.query);
  Diagnostics diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
  eql::verify(set, diagnostics);
  if (!diagnostics.has_errors() && set.alternatives.size() != 1) {
    diagnostics.error("one-query", {0, static_cast<uint32_t>(options.query.size())},
                      "`query` runs one query; this text holds several joined by `nor`",
                      "run each alternative on its own, or use `pickaxe hunt` with the rule");
  }
  Schema schema;
  if (!load_mappings(options.stream.mappings, schema)) return kFindings;
  EngineOptions engine_options;
  engine_options.category_field = options.category_field;
  engine_options.timestamp_field = options.timestamp_field;
  engine_options.tiebreaker_field = options.tiebreaker_field;
  if (options.size >= 0) engine_options.size = static_cast<size_t>(options.size);
  engine_options.tail = options.result_position == "tail";
  engine_options.max_samples_per_key = options.max_samples_per_key;
  engine_options.max_sequence_state = options.stream.max_sequence_state;
  std::unique_ptr<QueryEngine> engine;
  if (!diagnostics.has_errors()) {
    engine =
        std::make_unique<QueryEngine>(set.alternatives[0], schema, engine_options, &diagnostics);
  }
  for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
  if (diagnostics.has_errors()) return kFindings;

  std::optional<StreamOptions> stream_options = stream_options_of(options.stream);
  if (!stream_options) return kUsage;
  uint64_t reported = 0;
  QueryStream stream(*engine, schema, *stream_options, [&](const InputProblem& problem) {
    if (!options.stream.quiet && ++reported <= 100) std::cerr << describe_problem(problem);
  });
  // Results go out as they become final, in large blocks.
  Output out;
  size_t result_count = 0;
  std::string line;
  bool event_query = set.alternatives[0].kind == eql::QueryKind::Event ||
                     set.alternatives[0].is_single_step_sequence();
  auto write_result = [&](QueryResult&& result) {
    ++result_count;
    if (event_query) {
      line = result.events[0]->document();
      line += '\n';
    } else {
      JsonWriter json;
      json.begin_object().key("join_keys").begin_array();
      for (const Scalar& key : result.join_keys) write_scalar(json, key);
      json.end_array().key("events").begin_array();
      for (const auto& event : result.events) {
        if (event) {
          json.raw(event->document());
        } else {
          json.null();
        }
      }
      json.end_array().end_object();
      line = json.str();
      line += '\n';
    }
    out.record(line);
  };
  engine->set_sink(write_result);
  install_stop_signals();
  std::vector<std::string> empty_inputs;
  bool unreadable = !read_inputs(
      options.files,
      [&](std::istream& in, const std::string& name) {
        const uint64_t before = stream.stats().arrived();
        stream.read(in, name);
        if (stream.stats().arrived() == before && !stream.done() && !stop_requested())
          empty_inputs.push_back(name);
      },
      [&] { return stream.done(); }, nullptr, [&] { out.flush(); });
  std::vector<QueryResult> results = stream.finish();
  for (QueryResult& result : results) write_result(std::move(result));
  out.flush();

  StreamStats stats = stream.stats();
  const EngineStats& engine_stats = engine->stats();
  if (reported > 100)
    std::cerr << fmt::format("pickaxe: {} more input problems not shown\n", reported - 100);
  if (!options.stream.quiet &&
      (stats.rejected() > 0 || stats.late > 0 || engine_stats.state_evictions > 0)) {
    std::cerr << fmt::format(
        "pickaxe: {} events read, {} results; skipped {} malformed, {} without a timestamp, {} "
        "with a wrong-typed "
        "field; {} late; {} partial sequences and samples dropped at --max-sequence-state\n",
        stats.events, result_count, stats.malformed, stats.missing_timestamp, stats.wrong_type,
        stats.late, engine_stats.state_evictions);
  }
  if (std::string notes = describe_source_notes(stats); !options.stream.quiet && !notes.empty())
    std::cerr << "pickaxe: " << notes;
  if (std::string notes = describe_sample_disk(engine_stats);
      !options.stream.quiet && !notes.empty())
    std::cerr << "pickaxe: " << notes;
  const bool empty_failed = report_empty_inputs(empty_inputs, options.stream.allow_empty);
  if (!finish_output(out, "results")) return kFindings;
  if (stop_requested()) {
    std::cerr << fmt::format("pickaxe: stopped by {}: the input read until then was queried\n",
                             stop_signal_name());
    return 128 + stop_signal();
  }
  if (unreadable || empty_failed) return kFindings;
  if (options.stream.strict &&
      (stats.rejected() > 0 || stats.late > 0 || engine_stats.state_evictions > 0))
    return kFindings;
  return kSuccess;
}

}  // namespace

void add_query_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<QueryOptions>();
  CLI::App* command = app.add_subcommand(
      "query",
      "Run one EQL query over JSON events (NDJSON or a JSON array; stdin when no FILE or -). "
      "Prints NDJSON: "
      "matching events, or {\"join_keys\": [...], \"events\": [...]} per sequence or sample.");
  command->add_option("query", options->query, "The EQL query")->required();
  command->add_option("files", options->files,
                      "Event files, or folders of them (read in path order); - is stdin");
  command->add_option("--timestamp-field", options->timestamp_field, "Field holding the event time")
      ->default_str("@timestamp");
  command->add_option("--tiebreaker-field", options->tiebreaker_field,
                      "Field that orders events with equal timestamps");
  command
      ->add_option("--event-category-field", options->category_field,
                   "Field that `<category> where` matches")
      ->default_str("event.category");
  command->add_option("--size", options->size, "Return at most N results (default: all)")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--result-position", options->result_position,
                   "With --size: keep the first or last results")
      ->check(CLI::IsMember({"head", "tail"}))
      ->default_str("head");
  command->add_option("--max-samples-per-key", options->max_samples_per_key, "Samples per join key")
      ->check(CLI::PositiveNumber)
      ->default_str("1");
  add_stream_flags(*command, options->stream, "Do not report input problems on stderr");
  command->callback([options, &run] { run = [options] { return run_query(*options); }; });
}

}  // namespace pickaxe::cli
