#include "rules/rule_loader.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "eql/functions.h"
#include "eql/parser.h"
#include "sigma/to_eql.h"
#include "util/strings.h"
#include "util/uuid.h"

namespace pickaxe {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<SourceFile> file_source(const std::string& path, const std::string& text) {
  return std::make_shared<SourceFile>(path, text);
}

// A Kibana schedule duration: "5m", "30s", "1h", "1d"; nullopt otherwise.
std::optional<int64_t> schedule_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1'000'000'000; break;
    case 'm': unit = 60'000'000'000; break;
    case 'h': unit = 3'600'000'000'000; break;
    case 'd': unit = 86'400'000'000'000; break;
    default: return std::nullopt;
  }
  int64_t count = 0;
  std::string_view digits = text.substr(0, text.size() - 1);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (error != std::errc() || end != digits.data() + digits.size() || count <= 0 ||
      count > 366 * 86'400'000'000'000 / unit)
    return std::nullopt;
  return count * unit;
}

Diagnostics& file_problem(LoadResult& result, std::shared_ptr<const SourceFile> source) {
  result.file_diagnostics.emplace_back(std::move(source));
  return result.file_diagnostics.back();
}

// The rule's `interval` and `from` ("now-6m"), which set the span of one
// execution; returns what could not be read.
std::vector<std::string> read_schedule(const toml::table& table, Rule& rule) {
  std::vector<std::string> problems;
  int64_t from = rule.interval + rule.lookback;
  if (auto text = table["interval"].value<std::string>()) {
    if (auto interval = schedule_duration(*text))
      rule.interval = *interval;
    else
      problems.push_back(
          fmt::format("interval \"{}\" is no duration such as 5m; 5m is used", *text));
  }
  if (auto text = table["from"].value<std::string>()) {
    std::string_view look = *text;
    std::optional<int64_t> back;
    if (look.starts_with("now-")) back = schedule_duration(look.substr(4));
    if (back)
      from = *back;
    else
      problems.push_back(
          fmt::format("from \"{}\" is not of the form now-6m; now-6m is used", *text));
  }
  rule.lookback = std::max<int64_t>(0, from - rule.interval);
  return problems;
}

std::string default_name(const std::string& path) {
  return fs::path(path).stem().string();
}

// ----- plain .eql ---------------------------------------------------------------

void load_eql(const std::string& path, std::string text, LoadResult& result) {
  Rule rule;
  rule.format = RuleFormat::Eql;
  rule.path = path;
  rule.name = default_name(path);
  rule.rule_id = stable_uuid(path + "\n" + text);
  rule.source = file_source(path, text);
  rule.query_end = static_cast<uint32_t>(text.size());
  compile_rule(rule);
  result.rules.push_back(std::move(rule));
}

// ----- detection-rules TOML -------------------------------------------------------

std::vector<std::string> string_array(const toml::node* node) {
  std::vector<std::string> out;
  if (const toml::array* array = node ? node->as_array() : nullptr) {
    for (const toml::node& item : *array) {
      if (auto value = item.value<std::string>()) out.push_back(*value);
    }
  }
  return out;
}

ThreatTechnique technique_of(const toml::table& table) {
  ThreatTechnique technique;
  technique.id = table["id"].value_or(std::string{});
  technique.name = table["name"].value_or(std::string{});
  if (const toml::array* subs = table["subtechnique"].as_array()) {
    for (const toml::node& sub : *subs) {
      if (const toml::table* sub_table = sub.as_table())
        technique.subtechniques.push_back(technique_of(*sub_table));
    }
  }
  return technique;
}

uint32_t offset_of_line(const std::string& text, uint32_t line) {
  uint32_t offset = 0;
  for (uint32_t current = 1; current < line && offset < text.size(); ++offset) {
    if (text[offset] == '\n') ++current;
  }
  return offset;
}

void load_toml(const std::string& path, std::string text, LoadResult& result) {
  auto source = file_source(path, text);
  toml::table document;
  try {
    document = toml::parse(text, path);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    uint32_t offset = offset_of_line(text, begin.line) + (begin.column > 0 ? begin.column - 1 : 0);
    file_problem(result, source)
        .error("toml-syntax", {offset, offset + 1},
               fmt::format("invalid TOML: {}", error.description()),
               "detection-rules files are TOML with [metadata] and [rule] tables");
    return;
  }
  const toml::table* rule_table = document["rule"].as_table();
  if (!rule_table) {
    file_problem(result, source)
        .error("toml-no-rule", {0, 0}, "no [rule] table in this TOML file",
               "a detection-rules file has a [rule] table with name, query and language");
    return;
  }
  std::string language = to_lower((*rule_table)["language"].value_or(std::string{"eql"}));
  std::string type = (*rule_table)["type"].value_or(std::string{"eql"});
  if (language != "eql") {
    auto& diagnostics = file_problem(result, source);
    diagnostics.add(Severity::Note, "not-eql", {0, 0},
                    fmt::format("skipped: the rule's language is {}, not eql", language));
    return;
  }
  const toml::node* query_node = rule_table->get("query");
  auto query = query_node ? query_node->value<std::string>() : std::nullopt;
  if (!query) {
    file_problem(result, source)
        .error("toml-no-query", {0, 0}, "the [rule] table has no query string",
               "add `query = '''<your EQL>'''`");
    return;
  }

  Rule rule;
  rule.format = RuleFormat::DetectionRulesToml;
  rule.path = path;
  rule.language = language;
  rule.type = type;
  rule.name = (*rule_table)["name"].value_or(default_name(path));
  rule.rule_id = (*rule_table)["rule_id"].value_or(stable_uuid(path + "\n" + *query));
  rule.description = std::string(trim((*rule_table)["description"].value_or(std::string{})));
  rule.severity = to_lower((*rule_table)["severity"].value_or(std::string{"medium"}));
  rule.risk_score = static_cast<int>((*rule_table)["risk_score"].value_or(int64_t{47}));
  rule.max_signals = static_cast<int>((*rule_table)["max_signals"].value_or(int64_t{100}));
  rule.timestamp_override = (*rule_table)["timestamp_override"].value_or(std::string{});
  if (auto problems = read_schedule(*rule_table, rule); !problems.empty()) {
    Diagnostics& diagnostics = file_problem(result, source);
    for (const std::string& problem : problems)
      diagnostics.warning("toml-schedule", {0, 0}, problem,
                          "Kibana writes interval = \"5m\" and from = \"now-6m\"");
  }
  rule.index = string_array(rule_table->get("index"));
  rule.tags = string_array(rule_table->get("tags"));
  rule.false_positives = string_array(rule_table->get("false_positives"));
  rule.note = std::string(trim((*rule_table)["note"].value_or(std::string{})));
  rule.author = string_array(rule_table->get("author"));
  rule.references = string_array(rule_table->get("references"));
  if (const toml::array* tests = document["pickaxe"]["validates"].as_array()) {
    for (const toml::node& test : *tests)
      if (auto id = test.value<int64_t>()) rule.validates.push_back(static_cast<int>(*id));
  }
  if (const toml::array* threats = (*rule_table)["threat"].as_array()) {
    for (const toml::node& node : *threats) {
      const toml::table* threat_table = node.as_table();
      if (!threat_table) continue;
      Threat threat;
      threat.framework = (*threat_table)["framework"].value_or(std::string{"MITRE ATT&CK"});
      threat.tactic_id = (*threat_table)["tactic"]["id"].value_or(std::string{});
      threat.tactic_name = (*threat_table)["tactic"]["name"].value_or(std::string{});
      if (const toml::array* techniques = (*threat_table)["technique"].as_array()) {
        for (const toml::node& technique : *techniques) {
          if (const toml::table* t = technique.as_table())
            threat.techniques.push_back(technique_of(*t));
        }
      }
      rule.threats.push_back(std::move(threat));
    }
  }

  // Point diagnostics into the file itself when the query appears there verbatim.
  uint32_t value_line = query_node->source().begin.line;
  size_t search_from = offset_of_line(text, value_line);
  size_t found = query->empty() ? std::string::npos : text.find(*query, search_from);
  if (found != std::string::npos) {
    rule.source = source;
    rule.query_begin = static_cast<uint32_t>(found);
    rule.query_end = static_cast<uint32_t>(found + query->size());
  } else {
    // Escapes changed the text; diagnostics show the decoded query, placed at its line.
    uint32_t first_line = value_line;
    std::string_view after(text.data() + std::min(search_from, text.size()));
    size_t quotes = after.find("\"\"\"");
    if (quotes != std::string_view::npos && quotes + 3 < after.size() && after[quotes + 3] == '\n')
      ++first_line;
    rule.source = std::make_shared<SourceFile>(path, *query, first_line);
    rule.query_end = static_cast<uint32_t>(query->size());
  }
  compile_rule(rule);
  result.rules.push_back(std::move(rule));
}

// ----- Sigma ------------------------------------------------------------------------

std::pair<std::string, int> severity_of_level(const std::string& level) {
  if (level == "critical") return {"critical", 99};
  if (level == "high") return {"high", 73};
  if (level == "medium") return {"medium", 47};
  return {"low", 21};  // low and informational
}

void fill_metadata(Rule& rule, const sigma::Rule& parsed, const std::string& path,
                   const std::string& text, size_t document) {
  rule.format = RuleFormat::Sigma;
  rule.path = path;
  rule.language = "eql";
  rule.name = parsed.title.empty() ? default_name(path) : parsed.title;
  rule.rule_id =
      parsed.id.empty() ? stable_uuid(fmt::format("{}\n{}\n{}", path, document, text)) : parsed.id;
  rule.sigma_name = parsed.name;
  rule.description = parsed.description;
  std::tie(rule.severity, rule.risk_score) = severity_of_level(parsed.level);
  rule.tags = parsed.tags;
  rule.false_positives = parsed.false_positives;
  rule.references = parsed.references;
  rule.index = parsed.index;
  if (!parsed.author.empty()) rule.author = {parsed.author};
}

std::optional<RuleCorrelation::Type> correlation_type(const std::string& name) {
  if (name == "event_count") return RuleCorrelation::Type::EventCount;
  if (name == "value_count") return RuleCorrelation::Type::ValueCount;
  if (name == "temporal") return RuleCorrelation::Type::Temporal;
  if (name == "temporal_ordered") return RuleCorrelation::Type::TemporalOrdered;
  return std::nullopt;
}

void load_sigma(const std::string& path, std::string text, LoadResult& result,
                const sigma::Mapping& mapping) {
  auto source = file_source(path, text);
  Diagnostics diagnostics(source);
  std::vector<sigma::Rule> parsed = sigma::parse_rules(source, diagnostics);
  if (diagnostics.has_errors()) file_problem(result, source).append(diagnostics);
  std::shared_ptr<const sigma::Mapping> owned;  // what sigma_field reads, kept alive by rules
  for (size_t document = 0; document < parsed.size(); ++document) {
    const sigma::Rule& sigma_rule = parsed[document];
    Rule rule;
    fill_metadata(rule, sigma_rule, path, text, document);
    rule.sigma_source = source;
    rule.source = source;
    if (sigma_rule.correlation) {
      const sigma::Correlation& in = *sigma_rule.correlation;
      auto correlation = std::make_shared<RuleCorrelation>();
      correlation->type = *correlation_type(in.type);
      correlation->type_name = in.type;
      correlation->group_by = in.group_by;
      correlation->timespan = in.timespan;
      correlation->condition = in.condition;
      correlation->field = in.field;
      correlation->generate = in.generate;
      correlation->aliases = in.aliases;
      // Counting correlations alert as Elastic's threshold rules do.
      const bool counting = correlation->type == RuleCorrelation::Type::EventCount ||
                            correlation->type == RuleCorrelation::Type::ValueCount;
      rule.type = counting ? "threshold" : "eql";
      for (const std::string& reference : in.rules)
        correlation->inputs.push_back({reference, {}, {}, {}});
      rule.correlation = std::move(correlation);
      rule.diagnostics = Diagnostics(source);
      result.rules.push_back(std::move(rule));
      continue;
    }
    Diagnostics rule_diagnostics(source);
    sigma::Rendered rendered = sigma::to_eql(sigma_rule, mapping, rule_diagnostics);
    if (!rendered.skipped.empty()) {
      file_problem(result, source)
          .add(Severity::Note, "sigma-skipped", sigma_rule.title_span,
               fmt::format("skipped: {}", rendered.skipped),
               "add the logsource to a mapping file (--sigma-mapping)");
      continue;
    }
    if (!owned) owned = std::make_shared<const sigma::Mapping>(mapping);
    const size_t entry = static_cast<size_t>(rendered.logsource - mapping.entries().data());
    rule.sigma_field = [owned, entry](const std::string& field) {
      return owned->field(owned->entries()[entry], field).field;
    };
    if (rendered.eql.empty()) {  // the detection has errors: the rule stays, not loaded
      rule.diagnostics = std::move(rule_diagnostics);
      result.rules.push_back(std::move(rule));
      continue;
    }
    rule.source = std::make_shared<SourceFile>(path + " (as EQL)", rendered.eql);
    rule.query_end = static_cast<uint32_t>(rendered.eql.size());
    compile_rule(rule);
    rule.diagnostics.append(rule_diagnostics);
    result.rules.push_back(std::move(rule));
  }
}

// Links each Sigma correlation to the rules it names (by id, or by `name`),
// and resolves its group-by fields (through aliases) to each rule's ECS
// fields. A correlation of correlations reads fields as its first rule does.
void link_correlations(LoadResult& result) {
  auto find = [&](const std::string& reference, const Rule& from) -> Rule* {
    for (Rule& rule : result.rules) {
      if (&rule == &from) continue;
      if (rule.rule_id == reference) return &rule;
    }
    for (Rule& rule : result.rules)
      if (&rule != &from && rule.format == RuleFormat::Sigma && rule.sigma_name == reference)
        return &rule;
    return nullptr;
  };
  std::vector<Rule*> pending;
  for (Rule& rule : result.rules)
    if (rule.correlation && rule.correlation->inputs.front().rule_id.empty())
      pending.push_back(&rule);
  // Rules are linked once the rules they name are: a chain links in as many
  // rounds as it is deep, and what is left at the end is missing or a cycle.
  for (bool progress = true; progress && !pending.empty();) {
    progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      Rule& rule = **it;
      auto linked = std::make_shared<RuleCorrelation>(*rule.correlation);
      bool ready = true, missing = false;
      for (RuleCorrelation::Input& input : linked->inputs) {
        Rule* target = find(input.reference, rule);
        if (!target) {
          missing = true;
          rule.diagnostics.error(
              "sigma-correlation", {0, 0},
              fmt::format("correlation \"{}\" refers to `{}`, which no loaded rule has as id or "
                          "name",
                          rule.name, input.reference),
              "load the rule it names too (the same file, or another --rules path)");
          continue;
        }
        if (!target->sigma_field) {  // a correlation not linked yet
          ready = false;
          continue;
        }
        input.rule_id = target->rule_id;
        auto field_of = [&](const std::string& written) {
          for (const auto& [alias, fields] : linked->aliases) {
            if (alias != written) continue;
            for (const auto& [name, field] : fields)
              if (name == target->sigma_name || name == input.reference)
                return target->sigma_field(field);
          }
          return target->sigma_field(written);
        };
        for (const std::string& group : linked->group_by)
          input.group_fields.push_back(field_of(group));
        if (!linked->field.empty()) input.value_field = field_of(linked->field);
      }
      if (missing) {
        it = pending.erase(it);
        continue;
      }
      if (!ready) {
        ++it;
        continue;
      }
      Rule* first = find(linked->inputs.front().reference, rule);
      rule.sigma_field = first->sigma_field;
      rule.correlation = std::move(linked);
      it = pending.erase(it);
      progress = true;
    }
  }
  for (Rule* rule : pending)
    rule->diagnostics.error(
        "sigma-correlation", {0, 0},
        fmt::format("correlation \"{}\" is part of a cycle of correlations", rule->name),
        "a correlation may refer to other correlations, but not back to itself");
}

// ----- the seed page ----------------------------------------------------------------

struct PageLine {
  std::string_view text;
  uint32_t offset;
};

std::vector<PageLine> split_lines(const std::string& text) {
  std::vector<PageLine> lines;
  uint32_t start = 0;
  for (uint32_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\n') {
      std::string_view line(text.data() + start, i - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.push_back({line, start});
      start = i + 1;
    }
  }
  return lines;
}

const std::pair<std::string_view, std::string_view> kTactics[] = {
    {"reconnaissance", "TA0043"},  {"resource development", "TA0042"},
    {"initial access", "TA0001"},  {"execution", "TA0002"},
    {"persistence", "TA0003"},     {"privilege escalation", "TA0004"},
    {"defense evasion", "TA0005"}, {"credential access", "TA0006"},
    {"discovery", "TA0007"},       {"lateral movement", "TA0008"},
    {"collection", "TA0009"},      {"command and control", "TA0011"},
    {"exfiltration", "TA0010"},    {"impact", "TA0040"},
};

ThreatTechnique parse_technique_line(std::string_view line) {
  ThreatTechnique technique;
  line = trim(line);
  size_t space = line.find(' ');
  technique.id = std::string(line.substr(0, space));
  if (space != std::string_view::npos) technique.name = std::string(trim(line.substr(space)));
  return technique;
}

// Data streams of the sources a rule page may name under "Data Sources".
const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kDataSourcePatterns =
    {{"auditd", {"logs-auditd_manager.auditd-*", "logs-auditd.log-*"}},
     {"sysmon", {"logs-sysmon_linux.log-*"}},
     {"cloudtrail", {"logs-aws.cloudtrail-*"}},
     {"docker", {"logs-docker.event-*"}}};

std::string_view next_nonempty(const std::vector<PageLine>& lines, size_t& i) {
  while (++i < lines.size()) {
    if (!trim(lines[i].text).empty()) return trim(lines[i].text);
  }
  return {};
}

// "high severity high confidence" -> "high"; anything else -> "".
std::string severity_line(std::string_view line) {
  for (std::string_view level : {"low", "medium", "high", "critical"}) {
    std::string lower = to_lower(line.substr(0, level.size() + 9));
    if (lower == std::string(level) + " severity") return std::string(level);
  }
  return {};
}

void load_seed_page(const std::string& path, std::string text, LoadResult& result) {
  auto source = file_source(path, text);
  std::vector<PageLine> lines = split_lines(text);
  Rule rule;
  rule.format = RuleFormat::SeedPage;
  rule.path = path;
  rule.source = source;
  rule.tags = {"Seed Dialect"};
  size_t query_first = 0, query_last = 0;
  bool in_query = false, seen_header = false;
  Threat threat;
  std::vector<std::string_view> source_patterns;  // from "Data Sources"
  ThreatTechnique technique;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = trim(lines[i].text);
    if (i > 0 && rule.name.empty() && !line.empty()) {
      std::string name(line);
      for (std::string_view suffix : {" in Elastic Security"}) {
        if (name.size() > suffix.size() && name.ends_with(suffix))
          name.resize(name.size() - suffix.size());
      }
      rule.name = name;
      continue;
    }
    if (line == "Elastic Detection Query") seen_header = true;
    if (seen_header && !in_query && query_first == 0 && line == "eql") {
      in_query = true;
      query_first = i + 1;
      continue;
    }
    if (in_query) {
      if (std::string severity = severity_line(line); !severity.empty()) {
        in_query = false;
        query_last = i;
        rule.severity = severity;
        // "high severity high confidence": keep the confidence as a tag.
        size_t confidence = line.find(" confidence");
        if (confidence != std::string_view::npos) {
          std::string_view words = trim(line.substr(0, confidence));
          std::string level(words.substr(words.rfind(' ') + 1));
          if (!level.empty())
            level[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(level[0])));
          rule.tags.push_back("Confidence: " + level);
        }
        size_t j = i;
        rule.description = std::string(next_nonempty(lines, j));
      }
      continue;
    }
    if (line == "Tactic") {
      size_t j = i;
      threat.tactic_name = std::string(next_nonempty(lines, j));
      for (const auto& [name, id] : kTactics) {
        if (to_lower(threat.tactic_name) == name) threat.tactic_id = std::string(id);
      }
    } else if (line == "Technique") {
      size_t j = i;
      technique = parse_technique_line(next_nonempty(lines, j));
    } else if (line == "Sub-technique") {
      size_t j = i;
      technique.subtechniques.push_back(parse_technique_line(next_nonempty(lines, j)));
    } else if (line == "Required Tables") {
      size_t j = i;
      std::string_view tables = next_nonempty(lines, j);
      // Index patterns run together on one line; each ends with '*'.
      size_t start = 0;
      while (start < tables.size()) {
        size_t star = tables.find('*', start);
        size_t end = star == std::string_view::npos ? tables.size() : star + 1;
        std::string_view pattern = trim(tables.substr(start, end - start));
        if (!pattern.empty()) rule.index.emplace_back(pattern);
        start = end;
      }
    } else if (line == "Data Sources") {
      // Names run together on one line. A rule reads what its page names:
      // each source pickaxe decodes adds the data streams it writes.
      size_t j = i;
      std::string sources = to_lower(next_nonempty(lines, j));
      for (const auto& [name, patterns] : kDataSourcePatterns) {
        if (sources.find(name) != std::string::npos)
          source_patterns.insert(source_patterns.end(), patterns.begin(), patterns.end());
      }
    } else if (line.starts_with("\u2022")) {
      rule.false_positives.emplace_back(trim(line.substr(std::string_view("\u2022").size())));
    }
  }
  for (std::string_view pattern : source_patterns) {
    if (std::find(rule.index.begin(), rule.index.end(), pattern) == rule.index.end())
      rule.index.emplace_back(pattern);
  }
  if (query_first == 0) {
    file_problem(result, source)
        .error("page-no-query", {0, 0}, "found no EQL query in this rule page",
               "the page lists its query after a line reading `eql` under \"Elastic Detection "
               "Query\"");
    return;
  }
  if (query_last == 0) query_last = lines.size();
  while (query_last > query_first && trim(lines[query_last - 1].text).empty()) --query_last;
  rule.query_begin = lines[query_first].offset;
  rule.query_end =
      lines[query_last - 1].offset + static_cast<uint32_t>(lines[query_last - 1].text.size());
  if (!technique.id.empty()) threat.techniques.push_back(technique);
  if (!threat.tactic_name.empty() || !threat.techniques.empty()) rule.threats.push_back(threat);
  if (rule.name.empty()) rule.name = default_name(path);
  rule.risk_score = rule.severity == "critical" ? 99
                    : rule.severity == "high"   ? 73
                    : rule.severity == "medium" ? 47
                                                : 21;
  rule.rule_id = stable_uuid(text.substr(rule.query_begin, rule.query_end - rule.query_begin));
  compile_rule(rule);
  result.rules.push_back(std::move(rule));
}

bool read_file(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return !in.bad();
}

bool is_rule_file(const fs::path& path) {
  std::string extension = to_lower(path.extension().string());
  return extension == ".eql" || extension == ".toml" || extension == ".txt" ||
         extension == ".yml" || extension == ".yaml";
}

}  // namespace

bool looks_like_seed_page(std::string_view text) {
  return text.find("Elastic Detection Query") != std::string_view::npos;
}

void compile_rule(Rule& rule) {
  rule.diagnostics = Diagnostics(rule.source);
  rule.query =
      eql::parse_query_set(*rule.source, rule.query_begin, rule.query_end, rule.diagnostics);
  eql::verify(rule.query, rule.diagnostics);
}

const sigma::Mapping& builtin_sigma_mapping() {
  static const sigma::Mapping mapping;
  return mapping;
}

namespace {

void load_one(const std::string& path, std::string text, LoadResult& result,
              const sigma::Mapping* sigma_mapping) {
  ++result.files_read;
  std::string extension = to_lower(fs::path(path).extension().string());
  if (extension == ".yml" || extension == ".yaml") {
    load_sigma(path, std::move(text), result,
               sigma_mapping ? *sigma_mapping : builtin_sigma_mapping());
  } else if (extension == ".toml") {
    load_toml(path, std::move(text), result);
  } else if (looks_like_seed_page(text)) {
    load_seed_page(path, std::move(text), result);
  } else {
    load_eql(path, std::move(text), result);
  }
}

}  // namespace

void load_rule_text(const std::string& path, std::string text, LoadResult& result,
                    const sigma::Mapping* sigma_mapping) {
  load_one(path, std::move(text), result, sigma_mapping);
  link_correlations(result);
}

LoadResult load_rules(const std::vector<std::string>& paths, const sigma::Mapping* sigma_mapping,
                      size_t threads) {
  // The files to read, in order, each with what becomes of it; a path that
  // cannot be listed is a problem in its place.
  struct Job {
    std::string path;
    bool in_directory = false;  // .txt and YAML count only when they are rules
    std::string problem;        // instead of a file: an unreadable path
  };
  std::vector<Job> jobs;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> files;
      for (auto it = fs::recursive_directory_iterator(
               path, fs::directory_options::skip_permission_denied, error);
           !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        if (it->is_regular_file(error) && is_rule_file(it->path()))
          files.push_back(it->path().string());
      }
      std::sort(files.begin(), files.end());  // deterministic order
      for (std::string& file : files) jobs.push_back({std::move(file), true, {}});
      if (error) jobs.push_back({{}, false, fmt::format("{}: {}", path, error.message())});
    } else if (fs::exists(path, error)) {
      jobs.push_back({path, false, {}});
    } else {
      jobs.push_back({{}, false, fmt::format("{}: no such file or directory", path)});
    }
  }
  auto load_job = [&](const Job& job, LoadResult& result) {
    if (!job.problem.empty()) {
      file_problem(result, nullptr).error("unreadable", {0, 0}, job.problem);
      return;
    }
    // In a directory, .txt files count only when they are rule pages, YAML
    // files only when they are Sigma rules (not tuning or mappings).
    const std::string extension = to_lower(fs::path(job.path).extension().string());
    const bool maybe_other =
        job.in_directory && (extension == ".txt" || extension == ".yml" || extension == ".yaml");
    std::string text;
    if (!read_file(job.path, text)) {
      if (!maybe_other)
        file_problem(result, nullptr)
            .error("unreadable", {0, 0}, fmt::format("{}: cannot read the file", job.path));
      return;
    }
    if (maybe_other &&
        (extension == ".txt" ? !looks_like_seed_page(text) : !sigma::looks_like_sigma(text)))
      return;
    if (std::string_view(text).substr(0, 8192).find('\0') != std::string_view::npos) {
      ++result.files_read;
      file_problem(result, nullptr)
          .error("binary-file", {0, 0}, fmt::format("{}: a binary file, not a rule", job.path),
                 "rules are EQL (.eql), detection-rules TOML (.toml), Sigma YAML (.yml) or a "
                 "rule's web page (.txt)");
      return;
    }
    load_one(job.path, std::move(text), result, sigma_mapping);
  };
  // Files are read and parsed on `threads` threads, each into its own
  // result; the results join in file order, and so does the first failure
  // (thrown on, as one thread would have).
  std::vector<LoadResult> parts(jobs.size());
  std::vector<std::exception_ptr> failures(jobs.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        load_job(jobs[i], parts[i]);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < std::min(threads, jobs.size()); ++i) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads, the same result
    }
  }
  work();
  for (std::thread& helper : helpers) helper.join();
  LoadResult result;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (failures[i]) std::rethrow_exception(failures[i]);
    result.append(std::move(parts[i]));
  }
  link_correlations(result);
  return result;
}

}  // namespace pickaxe
