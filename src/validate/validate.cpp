#include "validate/validate.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>
#include <toml++/toml.h>

#include "correlate/stream.h"
#include "eql/parser.h"
#include "eql/printer.h"
#include "event/field_types.h"
#include "event/patterns.h"
#include "hunt/hunter.h"
#include "lint/linter.h"
#include "scan/events.h"
#include "scan/image.h"
#include "util/json_writer.h"

namespace pickaxe {

const std::vector<std::string> kValidationSources = {"image",  "endpoint",   "auditd",
                                                     "sysmon", "cloudtrail", "docker"};

namespace {

// The file of each source in an emulation folder.
const std::vector<std::pair<std::string, std::string>> kSourceFiles = {
    {"image", "image.oci.tar"},  // scanned before it runs: pickaxe scan's events
    {"endpoint", "endpoint.ndjson"},   {"auditd", "audit.log"},    {"sysmon", "sysmon.log"},
    {"cloudtrail", "cloudtrail.json"}, {"docker", "docker.ndjson"}};

const char* kDetectionTime = "2026-01-01T00:00:00.000Z";  // fixed: output is reproducible

struct Run {
  std::vector<std::pair<const Rule*, size_t>> alerts;  // rule, query index (0-based)
  std::vector<std::string> documents;                  // the ECS documents read
};

// Hunts through one file with every rule, and keeps the documents as decoded.
Run run_file(const std::vector<Rule>& rules, const std::string& path, const ExceptionSet* tuning,
             std::vector<std::string>& problems, bool keep_documents = true) {
  Run run;
  Schema schema;
  HuntOptions options;
  options.detection_time = kDetectionTime;
  options.exceptions = tuning;
  Diagnostics diagnostics;
  auto on_problem = [&](const InputProblem& problem) {
    problems.push_back(fmt::format("{}:{}: {}", problem.file, problem.line, problem.message));
  };
  Hunter hunter(
      rules, schema, options,
      [&](const Alert& alert) {
        if (!alert.building_block && alert.rule)
          run.alerts.emplace_back(alert.rule, alert.alternative);
      },
      on_problem, diagnostics);
  {
    std::ifstream in(path, std::ios::binary);
    hunter.read(in, path);
    hunter.finish();
  }
  if (!keep_documents) return run;
  // The same file once more, to see the documents the decoders wrote.
  auto source = std::make_shared<SourceFile>("capture", "any where true");
  Diagnostics query_diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, query_diagnostics);
  QueryEngine engine(set.alternatives[0], schema, EngineOptions{});
  engine.set_sink([&](QueryResult&& result) {
    for (const EventPtr& event : result.events)
      if (event) run.documents.push_back(event->document());
  });
  QueryStream stream(engine, schema, StreamOptions{}, nullptr);
  std::ifstream in(path, std::ios::binary);
  stream.read(in, path);
  stream.finish();
  return run;
}

// An image's scan events (docs/SCAN.md), in a temporary file the caller removes.
std::string scan_events_file(const std::string& image_path, const scan::YaraSet* yara,
                             std::vector<std::string>& problems) {
  static int made = 0;
  const std::string path = (std::filesystem::temp_directory_path() /
                            fmt::format("pickaxe-validate-{}-{}.ndjson", ::getpid(), made++))
                               .string();
  scan::ScanLimits limits;
  limits.yara = yara;
  scan::ImageInput input = scan::read_image_input(image_path, limits);
  scan::resolve_images(input, "");
  for (const std::string& problem : input.problems)
    problems.push_back(fmt::format("{}: {}", image_path, problem));
  std::ofstream out(path, std::ios::binary);
  scan::EventContext context{kDetectionTime, image_path, yara};
  for (const scan::Image& image : input.images)
    scan::write_image_events(image, context, [&](std::string_view text) { out << text; });
  if (!out.flush()) problems.push_back(fmt::format("{}: cannot write its scan events", path));
  return path;
}

// A TOML file, or an error at the place toml++ stopped, with a hint.
std::optional<toml::table> read_toml(const std::string& path, std::string_view code,
                                     Diagnostics& diagnostics) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& problem) {
    diagnostics.error(std::string(code), {0, 0},
                      fmt::format("{}:{}:{}: {} (check the quotes and brackets up to there)", path,
                                  problem.source().begin.line, problem.source().begin.column,
                                  problem.description()));
    return std::nullopt;
  }
}

std::string data_stream_of(simdjson::dom::element document) {
  auto text = [&](const char* pointer) -> std::string {
    std::string_view value;
    if (document.at_pointer(pointer).get_string().get(value) == simdjson::SUCCESS)
      return std::string(value);
    return "";
  };
  std::string dataset = text("/data_stream/dataset");
  if (dataset.empty()) dataset = text("/event/dataset");
  if (dataset.empty()) return "";
  std::string type = text("/data_stream/type");
  std::string name_space = text("/data_stream/namespace");
  return fmt::format("{}-{}-{}", type.empty() ? "logs" : type, dataset,
                     name_space.empty() ? "default" : name_space);
}

bool reads(const Rule& rule, const std::set<std::string>& streams) {
  if (rule.index.empty() || streams.empty()) return true;
  for (const std::string& stream : streams)
    for (const std::string& pattern : rule.index)
      if (wildcard_match(stream, pattern, false)) return true;
  return false;
}

// Fields a query reads, without the bookkeeping every event carries.
std::vector<std::string> fields_read(const eql::Query& query) {
  Schema schema;
  QueryEngine engine(query, schema, EngineOptions{});
  std::vector<std::string> fields;
  for (uint32_t slot = 0; slot < engine.fields().size(); ++slot) {
    const std::string& path = engine.fields().path(slot);
    if (path == "@timestamp" || path == "_index" || path.starts_with("data_stream.")) continue;
    fields.push_back(path);
  }
  return fields;
}

// Fields set in at least one of the documents.
std::set<std::string> fields_set(const std::vector<std::string>& documents,
                                 const std::vector<std::string>& wanted) {
  FieldIndex index;
  for (const std::string& field : wanted) index.add(field);
  Schema schema;
  simdjson::dom::parser parser;
  std::set<std::string> seen;
  for (const std::string& text : documents) {
    simdjson::dom::element document;
    if (parser.parse(text).get(document)) continue;
    Event event;
    extract_fields(document, index, schema, event);
    for (uint32_t slot = 0; slot < index.size(); ++slot)
      if (!event.fields[slot].empty()) seen.insert(index.path(slot));
  }
  return seen;
}

std::string first_sentence(const std::string& text) {
  size_t end = text.find("; ");
  return end == std::string::npos ? text : text.substr(0, end);
}

std::string query_label(const Rule& rule, size_t alternative) {
  if (rule.query.alternatives.size() < 2) return rule.name;
  return fmt::format("{} #{}", rule.name, alternative + 1);
}

// Which documents (by index) an event query matches.
std::set<size_t> matching(const std::string& query_text, const std::string& input) {
  std::set<size_t> lines;
  auto source = std::make_shared<SourceFile>("term", query_text);
  Diagnostics diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
  if (diagnostics.has_errors() || set.alternatives.empty()) return lines;
  Schema schema;
  QueryEngine engine(set.alternatives[0], schema, EngineOptions{}, &diagnostics);
  if (diagnostics.has_errors()) return lines;
  engine.set_sink([&](QueryResult&& result) {
    for (const EventPtr& event : result.events)
      if (event) lines.insert(event->line);
  });
  StreamOptions options;
  options.source = SourceKind::Ecs;
  QueryStream stream(engine, schema, options, nullptr);
  std::istringstream in(input);
  stream.read(in, "documents");
  stream.finish();
  return lines;
}

std::string clip_text(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 3) + "...";
}

// Splits each of the query's event filters into its category and the terms
// of its top-level `and`, finds the document that meets the most of them,
// and names the terms it fails (their spans go to `failing`).
std::string closest_miss(const eql::Query& query, const std::vector<std::string>& documents,
                         std::vector<Span>& failing) {
  std::vector<const eql::EventFilter*> filters;
  if (query.kind == eql::QueryKind::Event) filters.push_back(&query.event);
  for (const eql::Step& step : query.steps) filters.push_back(&step.filter);
  std::string input;
  for (const std::string& document : documents) input += document + "\n";
  std::vector<std::string> misses;
  bool every_step_matches = true;
  for (const eql::EventFilter* filter : filters) {
    struct Term {
      std::string text;
      Span span;
      std::set<size_t> lines;
    };
    std::vector<Term> terms;
    if (!filter->any && !filter->category.empty())
      terms.push_back({fmt::format("{} where true", filter->category), filter->category_span, {}});
    if (filter->condition) {
      std::vector<const eql::Expr*> parts;
      if (filter->condition->kind == eql::ExprKind::And)
        for (const eql::ExprPtr& arg : filter->condition->args) parts.push_back(arg.get());
      else
        parts.push_back(filter->condition.get());
      for (const eql::Expr* part : parts) terms.push_back({eql::print(*part), part->span, {}});
    }
    for (Term& term : terms) {
      std::string text = term.text.ends_with(" where true") ? term.text : "any where " + term.text;
      term.lines = matching(text, input);
    }
    size_t best_line = 0, best_count = 0;
    for (size_t line = 1; line <= documents.size(); ++line) {
      size_t count = 0;
      for (const Term& term : terms) count += term.lines.count(line);
      if (count > best_count) {
        best_count = count;
        best_line = line;
      }
    }
    if (best_count == terms.size() && !terms.empty()) continue;  // this step has a match
    every_step_matches = false;
    for (const Term& term : terms) {
      if (best_line != 0 && term.lines.count(best_line)) continue;
      failing.push_back(term.span);
      misses.push_back("`" + clip_text(term.text, 90) + "`");
    }
  }
  if (every_step_matches)
    return query.kind == eql::QueryKind::Event
               ? ""
               : "each step matches an event, but not in order, by the join keys, or within "
                 "maxspan";
  return fmt::format("the closest event fails {}", fmt::join(misses, " and "));
}

// Lint findings that make a query miss what it means to catch (the others
// cause false positives, or are read as meant by pickaxe).
bool explains_a_miss(std::string_view code) {
  static const std::set<std::string_view> codes = {"network-event-type",   "dns-event-type",
                                                   "exact-domain-match",   "args-whitespace",
                                                   "wildcard-in-equality", "type-mismatch"};
  return codes.count(code) > 0;
}

// Why one query of a rule did not match the documents of a cell: the fields
// it reads that the source never sets, else the lint findings that explain a
// miss, else that no event meets its conditions. `only_if_data`: say nothing
// when the events carry none of the fields (the test has nothing for it).
std::vector<std::string> query_reasons(const Rule& rule, size_t alternative,
                                       const Diagnostics& lint_findings,
                                       const std::vector<std::string>& documents,
                                       const std::string& source, bool only_if_data = false) {
  std::vector<std::string> reasons;
  const eql::Query& query = rule.query.alternatives[alternative];
  std::string label = query_label(rule, alternative);
  std::vector<std::string> wanted = fields_read(query);
  std::set<std::string> seen = fields_set(documents, wanted);
  std::vector<std::string> missing;
  for (const std::string& field : wanted)
    if (!seen.count(field) && field != "event.category" && field != "event.type")
      missing.push_back(field);
  if (!missing.empty()) {
    if (only_if_data) return reasons;
    reasons.push_back(fmt::format("{}: {} never set in these {} events", label,
                                  fmt::join(missing, ", "), source));
    return reasons;
  }
  // The conditions the closest event fails, and what lint says of them.
  std::vector<Span> failing;
  std::string closest = closest_miss(query, documents, failing);
  if (!closest.empty()) reasons.push_back(fmt::format("{}: {}", label, closest));
  for (const Diagnostic& finding : lint_findings.items()) {
    if (finding.severity != Severity::Warning) continue;
    bool inside = std::any_of(failing.begin(), failing.end(), [&](const Span& span) {
      return finding.span.begin >= span.begin && finding.span.begin < span.end;
    });
    bool in_query = finding.span.begin >= query.span.begin && finding.span.begin < query.span.end;
    if (!inside && !(in_query && failing.empty() && explains_a_miss(finding.code))) continue;
    reasons.push_back(
        fmt::format("{}: lint {}: {}", label, finding.code, first_sentence(finding.message)));
  }
  if (reasons.empty()) reasons.push_back(fmt::format("{}: no event meets its conditions", label));
  return reasons;
}

ExceptionSet merged(const ExceptionSet* base, const ExceptionSet& extra) {
  ExceptionSet out = base ? *base : ExceptionSet{};
  out.items.insert(out.items.end(), extra.items.begin(), extra.items.end());
  for (const auto& [name, values] : extra.value_lists) out.value_lists[name] = values;
  return out;
}

// Distinctive fields of each query of a multi-query rule, for the legend.
std::string legend_of(const Rule& rule) {
  std::vector<std::vector<std::string>> fields;
  for (const eql::Query& query : rule.query.alternatives) fields.push_back(fields_read(query));
  std::vector<std::string> parts;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::vector<std::string> own;
    for (const std::string& field : fields[i]) {
      bool shared = std::all_of(fields.begin(), fields.end(), [&](const auto& other) {
        return std::find(other.begin(), other.end(), field) != other.end();
      });
      if (!shared) own.push_back(field);
    }
    parts.push_back(fmt::format("#{} {}", i + 1, fmt::join(own, ", ")));
  }
  return fmt::format("{}: {}", rule.name, fmt::join(parts, "; "));
}

}  // namespace

std::vector<Emulation> load_emulations(const std::string& dir, Diagnostics& diagnostics) {
  std::vector<Emulation> emulations;
  std::vector<std::filesystem::path> folders;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error))
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "test.toml"))
      folders.push_back(entry.path());
  if (error) {
    diagnostics.error("emulations-unreadable", {0, 0},
                      fmt::format("{}: cannot read the folder: {}", dir, error.message()));
    return emulations;
  }
  std::sort(folders.begin(), folders.end());
  for (const auto& folder : folders) {
    std::string manifest = (folder / "test.toml").string();
    std::optional<toml::table> parsed = read_toml(manifest, "emulation-toml", diagnostics);
    if (!parsed) continue;
    const toml::table& table = *parsed;
    Emulation emulation;
    emulation.folder = folder.string();
    emulation.name = table["name"].value_or(folder.filename().string());
    std::string kind = table["kind"].value_or(std::string{"test"});
    if (kind == "test") {
      emulation.kind = Emulation::Kind::Test;
      emulation.id = static_cast<int>(table["id"].value_or(int64_t{0}));
    } else if (kind == "benign") {
      emulation.kind = Emulation::Kind::Benign;
    } else if (kind == "false-positive") {
      emulation.kind = Emulation::Kind::FalsePositive;
      if (auto tuning = table["tuning"].value<std::string>())
        emulation.tuning = (folder / *tuning).string();
    } else {
      diagnostics.error(
          "emulation-kind", {0, 0},
          fmt::format("{}: kind is \"{}\"; use test, benign or false-positive", manifest, kind));
      continue;
    }
    for (const auto& [source, file] : kSourceFiles)
      if (std::filesystem::exists(folder / file))
        emulation.files[source] = (folder / file).string();
    if (const toml::table* not_carried = table["not_carried"].as_table())
      for (const auto& [source, reason] : *not_carried)
        emulation.not_carried[std::string(source.str())] = reason.value_or(std::string{});
    emulations.push_back(std::move(emulation));
  }
  return emulations;
}

std::vector<Variation> load_variations(const std::string& dir, Diagnostics& diagnostics) {
  std::vector<Variation> variations;
  const std::string manifest = dir + "/manifest.toml";
  if (!std::filesystem::is_regular_file(manifest)) {
    diagnostics.error("variations-manifest", {0, 0},
                      fmt::format("{}: no such file; a variation corpus is a folder with a "
                                  "manifest.toml of [[variation]] tables (see README, validate)",
                                  manifest));
    return variations;
  }
  std::optional<toml::table> table = read_toml(manifest, "variations-toml", diagnostics);
  if (!table) return variations;
  const toml::array* items = (*table)["variation"].as_array();
  if (!items || items->empty()) {
    diagnostics.error("variations-empty", {0, 0},
                      fmt::format("{}: no [[variation]] tables", manifest));
    return variations;
  }
  for (const toml::node& node : *items) {
    const toml::table* item = node.as_table();
    if (!item) continue;
    Variation variation;
    variation.id = (*item)["id"].value_or(std::string{});
    std::string kind = (*item)["kind"].value_or(std::string{});
    variation.malicious = kind == "malicious";
    variation.source = (*item)["source"].value_or(std::string{});
    variation.story = (*item)["story"].value_or(std::string{});
    variation.reference = (*item)["reference"].value_or(std::string{});
    std::string file = (*item)["file"].value_or(std::string{});
    variation.path = dir + "/" + file;
    // Problems are placed at the key they are about, else at the table.
    auto line_of = [&](std::string_view key) {
      const toml::node* value = item->get(key);
      return value ? value->source().begin.line : node.source().begin.line;
    };
    auto line = node.source().begin.line;
    auto wrong = [&](std::string what) {
      diagnostics.error(
          "variation-field", {0, 0},
          fmt::format("{}:{}: variation \"{}\": {}", manifest, line, variation.id, what));
    };
    if (variation.id.empty() || file.empty()) {
      wrong("needs an id and a file");
    } else if (std::any_of(variations.begin(), variations.end(),
                           [&](const Variation& other) { return other.id == variation.id; })) {
      wrong("the id is given twice; ids name variations in the report");
    } else if (kind != "malicious" && kind != "benign") {
      line = line_of("kind");
      wrong(fmt::format("kind is {}; use \"malicious\" or \"benign\"",
                        (*item)["kind"].is_string() ? "\"" + kind + "\"" : "not a string"));
    } else if (std::find(kValidationSources.begin(), kValidationSources.end(), variation.source) ==
               kValidationSources.end()) {
      line = line_of("source");
      wrong(fmt::format("source is \"{}\"; use one of {}", variation.source,
                        fmt::join(kValidationSources, ", ")));
    } else if (!std::filesystem::exists(variation.path)) {
      line = line_of("file");
      wrong(fmt::format("{} does not exist", variation.path));
    } else {
      variations.push_back(std::move(variation));
    }
  }
  return variations;
}

size_t QualityReport::count(bool malicious, std::string_view source) const {
  return std::count_if(results.begin(), results.end(), [&](const VariationResult& result) {
    return result.variation.malicious == malicious &&
           (source.empty() || result.variation.source == source);
  });
}

size_t QualityReport::alerted(bool malicious, bool by_seed, std::string_view source) const {
  return std::count_if(results.begin(), results.end(), [&](const VariationResult& result) {
    return result.variation.malicious == malicious &&
           (source.empty() || result.variation.source == source) &&
           (by_seed ? result.seed : !result.rules.empty());
  });
}

QualityReport measure_quality(const std::vector<Rule>& rules, const std::vector<Rule>& seed,
                              const std::vector<Variation>& variations, const std::string& corpus,
                              const ExceptionSet* tuning) {
  QualityReport report;
  report.corpus = corpus;
  for (const Rule& rule : rules)
    if (rule.loaded()) report.rules.push_back(rule.name);
  if (!seed.empty()) report.seed_name = seed.front().name;
  std::vector<std::string> seed_problems;  // the same lines again: said once
  for (const Variation& variation : variations) {
    VariationResult result;
    result.variation = variation;
    std::set<std::string> names;
    for (const auto& [rule, alternative] :
         run_file(rules, variation.path, tuning, report.problems, false).alerts)
      names.insert(rule->name);
    result.rules.assign(names.begin(), names.end());
    if (!seed.empty())
      result.seed = !run_file(seed, variation.path, tuning, seed_problems, false).alerts.empty();
    report.results.push_back(std::move(result));
  }
  return report;
}

uint64_t ValidationReport::benign_alerts() const {
  uint64_t total = 0;
  for (const BaselineResult& baseline : baselines) total += baseline.alerts;
  return total;
}

ValidationReport validate_rules(const std::vector<Rule>& rules,
                                const std::vector<Emulation>& emulations,
                                const ExceptionSet* tuning, Diagnostics& diagnostics,
                                const scan::YaraSet* yara) {
  ValidationReport report;
  std::vector<Diagnostics> findings(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].loaded()) lint(rules[i].query, FieldTypes::ecs(), findings[i]);
    if (rules[i].query.alternatives.size() > 1) report.legend.push_back(legend_of(rules[i]));
  }
  std::vector<std::string> problems;
  for (const Emulation& emulation : emulations) {
    if (emulation.kind != Emulation::Kind::Test) continue;
    TestResult test;
    test.emulation = &emulation;
    for (const auto& [source, path] : emulation.files) {
      const bool image = source == "image";
      const std::string events = image ? scan_events_file(path, yara, problems) : path;
      Run run = run_file(rules, events, tuning, problems);
      if (image) std::filesystem::remove(events);
      Cell& cell = test.cells[source];
      if (auto it = emulation.not_carried.find(source); it != emulation.not_carried.end()) {
        cell.carries = false;
        cell.note = it->second;
      }
      std::map<const Rule*, std::set<size_t>> matched;
      for (const auto& [rule, alternative] : run.alerts) matched[rule].insert(alternative);
      std::set<std::string> streams;
      simdjson::dom::parser parser;
      for (const std::string& text : run.documents) {
        simdjson::dom::element document;
        if (!parser.parse(text).get(document)) {
          std::string stream = data_stream_of(document);
          if (!stream.empty()) streams.insert(stream);
        }
      }
      for (size_t i = 0; i < rules.size(); ++i) {
        const Rule& rule = rules[i];
        if (!rule.loaded()) continue;
        auto it = matched.find(&rule);
        if (it != matched.end()) {
          RuleHit hit{rule.name, {}, rule.query.alternatives.size()};
          for (size_t alternative : it->second) hit.queries.push_back(alternative + 1);
          cell.hits.push_back(hit);
          // A rule with several queries: say why the others did not match.
          for (size_t q = 0; q < rule.query.alternatives.size(); ++q)
            if (!it->second.count(q) && rule.query.alternatives.size() > 1)
              for (std::string& reason :
                   query_reasons(rule, q, findings[i], run.documents, source, true))
                cell.reasons.push_back(std::move(reason));
        }
      }
      cell.caught = !cell.hits.empty();
      if (!cell.caught && cell.carries) {
        bool any_reader = false;
        for (size_t i = 0; i < rules.size(); ++i) {
          const Rule& rule = rules[i];
          if (!rule.loaded() || !reads(rule, streams)) continue;
          any_reader = true;
          for (size_t q = 0; q < rule.query.alternatives.size(); ++q)
            for (std::string& reason : query_reasons(rule, q, findings[i], run.documents, source))
              cell.reasons.push_back(std::move(reason));
        }
        if (!any_reader)
          cell.reasons.push_back(fmt::format("no rule reads {}", fmt::join(streams, ", ")));
      }
    }
    report.tests.push_back(std::move(test));
  }
  for (const Emulation& emulation : emulations) {
    if (emulation.kind == Emulation::Kind::Test) continue;
    BaselineResult baseline;
    baseline.emulation = &emulation;
    ExceptionSet scenario;
    if (!emulation.tuning.empty()) {
      Diagnostics tuning_diagnostics;
      scenario = merged(tuning, load_exceptions(emulation.tuning, tuning_diagnostics));
      diagnostics.append(tuning_diagnostics);
    }
    const ExceptionSet* tuned = emulation.tuning.empty() ? tuning : &scenario;
    for (const auto& [source, path] : emulation.files) {
      Run run = run_file(rules, path, tuned, problems);
      baseline.alerts += run.alerts.size();
      for (const auto& [rule, alternative] : run.alerts) ++baseline.by_rule[rule->name];
      if (emulation.kind == Emulation::Kind::FalsePositive)
        baseline.untuned_alerts += run_file(rules, path, tuning, problems).alerts.size();
    }
    report.baselines.push_back(std::move(baseline));
  }
  // Rules that declare a test must catch it in at least one source.
  for (const Rule& rule : rules) {
    for (int id : rule.validates) {
      const TestResult* test = nullptr;
      for (const TestResult& candidate : report.tests)
        if (candidate.emulation->id == id) test = &candidate;
      bool caught = false;
      if (test)
        for (const auto& [source, cell] : test->cells)
          for (const RuleHit& hit : cell.hits) caught = caught || hit.rule == rule.name;
      if (!caught)
        report.broken_claims.push_back(
            test ? fmt::format("{} declares test {} but catches it in no source", rule.name, id)
                 : fmt::format("{} declares test {}, which has no emulation", rule.name, id));
    }
  }
  for (const std::string& problem : problems)
    diagnostics.add(Severity::Warning, "emulation-input", {0, 0}, problem);
  return report;
}

namespace {

std::string share(size_t part, size_t whole) {
  if (whole == 0) return "-";
  return fmt::format("{} ({}%)", part, (part * 100 + whole / 2) / whole);
}

// Per rule: the malicious variations it caught and the benign ones it alerted on.
std::map<std::string, std::pair<size_t, size_t>> by_rule(const QualityReport& report) {
  std::map<std::string, std::pair<size_t, size_t>> counts;
  for (const std::string& rule : report.rules) counts[rule];
  for (const VariationResult& result : report.results)
    for (const std::string& rule : result.rules)
      (result.variation.malicious ? counts[rule].first : counts[rule].second)++;
  return counts;
}

std::string render_quality_table(const QualityReport& report) {
  const size_t malicious = report.count(true), benign = report.count(false);
  std::string out =
      fmt::format("\nDetection quality: {} malicious variations and {} benign near-misses ({})\n",
                  malicious, benign, report.corpus);
  const bool seed = !report.seed_name.empty();
  out += fmt::format("{:<12}{:>10}  {:<12}{}{:>8}  {:<17}{}\n", "SOURCE", "MALICIOUS", "CAUGHT",
                     seed ? fmt::format("{:<14}", "SEED CAUGHT") : "", "BENIGN", "FALSE POSITIVES",
                     seed ? "SEED FALSE POSITIVES" : "");
  auto row = [&](std::string_view name, std::string_view source) {
    const size_t bad = report.count(true, source), good = report.count(false, source);
    out += fmt::format(
        "{:<12}{:>10}  {:<12}{}{:>8}  {:<17}{}\n", name, bad,
        share(report.alerted(true, false, source), bad),
        seed ? fmt::format("{:<14}", share(report.alerted(true, true, source), bad)) : "", good,
        good ? fmt::format("{}", report.alerted(false, false, source)) : "-",
        seed ? (good ? fmt::format("{}", report.alerted(false, true, source)) : "-") : "");
  };
  for (const std::string& source : kValidationSources)
    if (report.count(true, source) + report.count(false, source) > 0) row(source, source);
  row("all", "");
  out += fmt::format("\n{:<70}{:>8}  {}\n", "RULE", "CAUGHT", "FALSE POSITIVES");
  for (const auto& [rule, counts] : by_rule(report))
    out += fmt::format("{:<70}{:>8}  {}\n", rule.substr(0, 69), counts.first, counts.second);
  if (seed) {
    out += fmt::format("{:<70}{:>8}  {}\n", ("seed: " + report.seed_name).substr(0, 69),
                       report.alerted(true, true), report.alerted(false, true));
  }
  for (const VariationResult& result : report.results) {
    const Variation& variation = result.variation;
    if (variation.malicious && result.rules.empty())
      out += fmt::format("missed: {} ({}): {}\n", variation.id, variation.source, variation.story);
    if (!variation.malicious && !result.rules.empty())
      out += fmt::format("false positive: {} ({}) by {}\n", variation.id, variation.source,
                         fmt::join(result.rules, ", "));
  }
  for (const std::string& problem : report.problems) out += "input problem: " + problem + "\n";
  return out;
}

void write_quality_json(JsonWriter& json, const QualityReport& report) {
  auto figures = [&](std::string_view source) {
    json.key("malicious").value(static_cast<int64_t>(report.count(true, source)));
    json.key("caught").value(static_cast<int64_t>(report.alerted(true, false, source)));
    json.key("benign").value(static_cast<int64_t>(report.count(false, source)));
    json.key("false_positives").value(static_cast<int64_t>(report.alerted(false, false, source)));
    if (!report.seed_name.empty()) {
      json.key("seed_caught").value(static_cast<int64_t>(report.alerted(true, true, source)));
      json.key("seed_false_positives")
          .value(static_cast<int64_t>(report.alerted(false, true, source)));
    }
  };
  json.begin_object();
  json.key("corpus").value(report.corpus);
  figures("");
  if (!report.seed_name.empty()) json.key("seed").value(report.seed_name);
  json.key("by_source").begin_object();
  for (const std::string& source : kValidationSources) {
    if (report.count(true, source) + report.count(false, source) == 0) continue;
    json.key(source).begin_object();
    figures(source);
    json.end_object();
  }
  json.end_object();
  json.key("by_rule").begin_object();
  for (const auto& [rule, counts] : by_rule(report)) {
    json.key(rule).begin_object();
    json.key("caught").value(static_cast<int64_t>(counts.first));
    json.key("false_positives").value(static_cast<int64_t>(counts.second));
    json.end_object();
  }
  json.end_object();
  json.key("problems").begin_array();
  for (const std::string& problem : report.problems) json.value(problem);
  json.end_array();
  json.key("variations").begin_array();
  for (const VariationResult& result : report.results) {
    json.begin_object();
    json.key("id").value(result.variation.id);
    json.key("kind").value(result.variation.malicious ? "malicious" : "benign");
    json.key("source").value(result.variation.source);
    json.key("rules").begin_array();
    for (const std::string& rule : result.rules) json.value(rule);
    json.end_array();
    if (!report.seed_name.empty()) json.key("seed").value(result.seed);
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

}  // namespace

std::string render_validation_table(const ValidationReport& report) {
  // The image column is the image scanned before it runs; the others, telemetry.
  // The image column is wide enough for its group's title.
  auto width = [](const std::string& source) { return source == "image" ? 17 : 10; };
  std::string out =
      fmt::format("{:<40}  {:<17}  {}\n", "", "before run (scan)", "at run (telemetry)");
  out += fmt::format("{:<40}", "TEST");
  for (const std::string& source : kValidationSources)
    out += fmt::format("  {:<{}}", source, width(source));
  out += "\n";
  size_t caught_tests = 0;
  for (const TestResult& test : report.tests) {
    out += fmt::format(
        "{:<40}", fmt::format("{} {}", test.emulation->id, test.emulation->name).substr(0, 40));
    bool any = false;
    for (const std::string& source : kValidationSources) {
      auto it = test.cells.find(source);
      std::string mark = it == test.cells.end() ? "-"
                         : it->second.caught    ? "caught"
                         : it->second.carries   ? "MISSED"
                                                : "n/a";
      any = any || (it != test.cells.end() && it->second.caught);
      out += fmt::format("  {:<{}}", mark, width(source));
    }
    caught_tests += any;
    out += "\n";
  }
  out +=
      "(image: pickaxe scan of the image the test runs; - : the test leaves no telemetry in that "
      "source; n/a : it does, but cannot show the behaviour)\n";
  for (const TestResult& test : report.tests) {
    out += fmt::format("\n{} {}\n", test.emulation->id, test.emulation->name);
    for (const std::string& source : kValidationSources) {
      auto it = test.cells.find(source);
      if (it == test.cells.end()) continue;
      const Cell& cell = it->second;
      std::vector<std::string> hits;
      for (const RuleHit& hit : cell.hits) {
        if (hit.of == 1)
          hits.push_back(hit.rule);
        else
          hits.push_back(fmt::format("{} #{}", hit.rule, fmt::join(hit.queries, ",#")));
      }
      out += fmt::format("  {:<11} {}\n", source,
                         cell.caught    ? "caught by " + fmt::format("{}", fmt::join(hits, "; "))
                         : cell.carries ? std::string("missed")
                                        : "n/a: " + cell.note);
      for (const std::string& reason : cell.reasons)
        out += fmt::format("  {:<11}   {}\n", "", reason);
    }
  }
  if (!report.legend.empty()) {
    out += "\nRules with several queries (#N reads):\n";
    for (const std::string& line : report.legend) out += "  " + line + "\n";
  }
  out += "\nBenign baselines (any alert is a false positive)\n";
  for (const BaselineResult& baseline : report.baselines) {
    std::string result = fmt::format("{} alerts", baseline.alerts);
    if (baseline.emulation->kind == Emulation::Kind::FalsePositive)
      result +=
          fmt::format(" with its tuning; {} with the tuning disabled", baseline.untuned_alerts);
    out += fmt::format("  {:<44} {}\n", baseline.emulation->name, result);
    for (const auto& [rule, count] : baseline.by_rule)
      out += fmt::format("  {:<44}   {} from {}\n", "", count, rule);
  }
  for (const std::string& claim : report.broken_claims) out += "\nbroken claim: " + claim + "\n";
  std::string quality;
  if (report.quality) {
    out += render_quality_table(*report.quality);
    const QualityReport& q = *report.quality;
    quality =
        fmt::format("; variations: {} of {} caught, {} false positives of {}",
                    q.alerted(true, false), q.count(true), q.alerted(false, false), q.count(false));
    if (!q.problems.empty()) quality += fmt::format(", {} input problems", q.problems.size());
  }
  out += fmt::format("\n{} of {} tests caught; {} alerts on benign baselines{}; {}\n", caught_tests,
                     report.tests.size(), report.benign_alerts(), quality,
                     report.passed() ? "passed" : "FAILED");
  return out;
}

std::string render_validation_json(const ValidationReport& report) {
  JsonWriter json;
  json.begin_object().key("tests").begin_array();
  for (const TestResult& test : report.tests) {
    json.begin_object();
    json.key("id").value(static_cast<int64_t>(test.emulation->id));
    json.key("name").value(test.emulation->name);
    json.key("sources").begin_object();
    for (const std::string& source : kValidationSources) {
      auto it = test.cells.find(source);
      if (it == test.cells.end()) continue;
      json.key(source).begin_object();
      json.key("caught").value(it->second.caught);
      json.key("carries").value(it->second.carries);
      if (!it->second.note.empty()) json.key("note").value(it->second.note);
      json.key("rules").begin_array();
      for (const RuleHit& hit : it->second.hits) json.value(hit.rule);
      json.end_array();
      json.key("queries").begin_object();
      for (const RuleHit& hit : it->second.hits) {
        json.key(hit.rule).begin_array();
        for (size_t query : hit.queries) json.value(static_cast<int64_t>(query));
        json.end_array();
      }
      json.end_object();
      json.key("reasons").begin_array();
      for (const std::string& reason : it->second.reasons) json.value(reason);
      json.end_array();
      json.end_object();
    }
    json.end_object();
    json.end_object();
  }
  json.end_array();
  json.key("benign").begin_object();
  json.key("alerts").value(static_cast<int64_t>(report.benign_alerts()));
  std::map<std::string, uint64_t> by_rule;
  for (const BaselineResult& baseline : report.baselines)
    for (const auto& [rule, count] : baseline.by_rule) by_rule[rule] += count;
  json.key("by_rule").begin_object();
  for (const auto& [rule, count] : by_rule) json.key(rule).value(static_cast<int64_t>(count));
  json.end_object();
  json.key("baselines").begin_array();
  for (const BaselineResult& baseline : report.baselines) {
    json.begin_object();
    json.key("name").value(baseline.emulation->name);
    json.key("kind").value(
        baseline.emulation->kind == Emulation::Kind::FalsePositive ? "false-positive" : "benign");
    json.key("alerts").value(static_cast<int64_t>(baseline.alerts));
    if (baseline.emulation->kind == Emulation::Kind::FalsePositive)
      json.key("alerts_without_tuning").value(static_cast<int64_t>(baseline.untuned_alerts));
    json.end_object();
  }
  json.end_array();
  json.end_object();
  json.key("broken_claims").begin_array();
  for (const std::string& claim : report.broken_claims) json.value(claim);
  json.end_array();
  if (report.quality) {
    json.key("quality");
    write_quality_json(json, *report.quality);
  }
  json.key("passed").value(report.passed());
  json.end_object();
  return json.str() + "\n";
}

}  // namespace pickaxe
