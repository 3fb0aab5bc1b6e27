// The whole rule set's results, pinned: every detection-rules query that
// loads, plus the bundled pack, over generated telemetry, the emulations and
// events synthesised from each query's own fields and literals (with
// near-miss variants that change one literal). The multiset of (rule, event
// ids) must equal tests/data/golden/ruleset.txt; run with
// PICKAXE_UPDATE_GOLDEN=1 to rewrite it after a deliberate change.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "event/date_format.h"
#include "test_util.h"
#include "util/json_writer.h"

namespace pickaxe::testing {
namespace {

namespace fs = std::filesystem;

// A value a synthesised event gives a field.
struct Sample {
  enum class Kind : uint8_t { String, Integer, Float, Bool } kind = Kind::String;
  std::string text;
  int64_t integer = 0;
  double number = 0;
  bool flag = false;
};

Sample text_sample(std::string text) {
  Sample sample;
  sample.text = std::move(text);
  return sample;
}

Sample of_literal(const eql::Value& value) {
  Sample sample;
  switch (value.type) {
    case eql::Value::Type::Integer:
      sample.kind = Sample::Kind::Integer;
      sample.integer = value.integer;
      break;
    case eql::Value::Type::Float:
      sample.kind = Sample::Kind::Float;
      sample.number = value.number;
      break;
    case eql::Value::Type::Bool:
      sample.kind = Sample::Kind::Bool;
      sample.flag = value.boolean;
      break;
    default: sample.text = value.string;
  }
  return sample;
}

// A wildcard pattern's simplest match: `*` matches nothing, `?` one letter.
std::string instantiate(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '*') continue;
    if (pattern[i] == '?') {
      out += 'a';
      continue;
    }
    if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
    out += pattern[i];
  }
  return out;
}

// A value unlike `sample`: the near miss of a literal.
Sample changed(Sample sample) {
  switch (sample.kind) {
    case Sample::Kind::Integer: sample.integer += 7; break;
    case Sample::Kind::Float: sample.number += 7.5; break;
    case Sample::Kind::Bool: sample.flag = !sample.flag; break;
    default: sample.text = "q" + sample.text + "q";
  }
  return sample;
}

// The fields an event must hold to make a filter true (or false), in the
// order the conditions name them. A condition that wants a value adds it
// (a field named twice becomes an array, as ECS arrays are matched by any
// element); one that wants a value absent sets the field only when unset.
class Witness {
 public:
  std::vector<std::pair<std::string, std::vector<Sample>>> fields;

  std::vector<Sample>* find(const std::string& name) {
    for (auto& field : fields)
      if (field.first == name) return &field.second;
    return nullptr;
  }
  void set(const std::string& name, Sample sample, bool wanted = false) {
    if (std::vector<Sample>* values = find(name)) {
      if (wanted) values->push_back(std::move(sample));
      return;
    }
    fields.emplace_back(name, std::vector<Sample>{std::move(sample)});
  }

  void satisfy(const eql::Expr& expr, bool want) {
    using eql::ExprKind;
    switch (expr.kind) {
      case ExprKind::And:
        if (want) {
          for (const auto& arg : expr.args) satisfy(*arg, true);
        } else if (!expr.args.empty()) {
          satisfy(*expr.args.front(), false);
        }
        return;
      case ExprKind::Or:
        if (!want) {
          for (const auto& arg : expr.args) satisfy(*arg, false);
        } else if (!expr.args.empty()) {
          satisfy(*expr.args.front(), true);
        }
        return;
      case ExprKind::Not: satisfy(*expr.args[0], !want); return;
      case ExprKind::Compare: compare(expr, want); return;
      case ExprKind::In: in(expr, want); return;
      case ExprKind::Match: match(expr, want); return;
      case ExprKind::Call: call(expr, want); return;
      case ExprKind::Field:
        set(expr.name, Sample{Sample::Kind::Bool, {}, 0, 0, want}, want);
        return;
      default: return;
    }
  }

 private:
  static const eql::Expr* field_of(const eql::Expr& expr) {
    return expr.kind == eql::ExprKind::Field ? &expr : nullptr;
  }
  static const eql::Expr* literal_of(const eql::Expr& expr) {
    return expr.kind == eql::ExprKind::Literal ? &expr : nullptr;
  }

  void compare(const eql::Expr& expr, bool want) {
    const eql::Expr* field = field_of(*expr.args[0]);
    const eql::Expr* literal = literal_of(*expr.args[1]);
    eql::CompareOp op = expr.compare;
    if (!field) {  // literal on the left: mirror the operator
      field = field_of(*expr.args[1]);
      literal = literal_of(*expr.args[0]);
      switch (op) {
        case eql::CompareOp::Less: op = eql::CompareOp::Greater; break;
        case eql::CompareOp::LessEqual: op = eql::CompareOp::GreaterEqual; break;
        case eql::CompareOp::Greater: op = eql::CompareOp::Less; break;
        case eql::CompareOp::GreaterEqual: op = eql::CompareOp::LessEqual; break;
        default: break;
      }
    }
    if (!field || !literal) return;
    if (literal->literal.type == eql::Value::Type::Null) {
      if ((op == eql::CompareOp::NotEqual) == want) set(field->name, text_sample("present"));
      return;
    }
    Sample value = of_literal(literal->literal);
    if (value.kind == Sample::Kind::String) value.text = instantiate(value.text);
    bool equal = op == eql::CompareOp::Equal || op == eql::CompareOp::LessEqual ||
                 op == eql::CompareOp::GreaterEqual;
    if (op == eql::CompareOp::Equal || op == eql::CompareOp::NotEqual) {
      bool same = (op == eql::CompareOp::Equal) == want;
      set(field->name, same ? value : changed(value), same);
      return;
    }
    bool above = op == eql::CompareOp::Greater || op == eql::CompareOp::GreaterEqual;
    if (!want) above = !above;
    if (value.kind == Sample::Kind::Integer) {
      value.integer += (equal == want) ? 0 : (above ? 1 : -1);
      if (!want && equal) value.integer += above ? 1 : -1;
    } else if (value.kind == Sample::Kind::Float) {
      value.number += above ? 1 : -1;
    }
    set(field->name, value, true);
  }

  void in(const eql::Expr& expr, bool want) {
    const eql::Expr* field = field_of(*expr.args[0]);
    if (!field || expr.args.size() < 2) return;
    const eql::Expr* first = literal_of(*expr.args[1]);
    if (!first) return;
    Sample value = of_literal(first->literal);
    bool wanted = want != expr.negated;
    set(field->name, wanted ? value : changed(value), wanted);
  }

  void match(const eql::Expr& expr, bool want) {
    const eql::Expr* field = field_of(*expr.args[0]);
    if (!field || expr.args.size() < 2 || expr.match == eql::MatchOp::Regex) return;
    const eql::Expr* first = literal_of(*expr.args[1]);
    if (!first || !first->literal.is_string()) return;
    std::string text = first->literal.string;
    size_t slash = text.find('/');
    if (slash != std::string::npos && std::isdigit(static_cast<unsigned char>(text[0])))
      text = text.substr(0, slash);  // a CIDR: its network address
    Sample value;
    value.text = instantiate(text);
    set(field->name, want ? value : changed(value), want);
  }

  void call(const eql::Expr& expr, bool want) {
    static const std::set<std::string> kTextTests = {"startswith", "endswith", "stringcontains",
                                                     "cidrmatch", "wildcard"};
    std::string name = expr.name;
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (!kTextTests.count(name) || expr.args.size() < 2) return;
    const eql::Expr* field = field_of(*expr.args[0]);
    const eql::Expr* literal = literal_of(*expr.args[1]);
    if (!field || !literal || !literal->literal.is_string()) return;
    std::string text = literal->literal.string;
    if (name == "cidrmatch") text = text.substr(0, text.find('/'));
    Sample value;
    value.text = name == "wildcard" ? instantiate(text) : text;
    set(field->name, want ? value : changed(value), want);
  }
};

// Nested JSON from dotted names; a name under a field that holds a value is
// left out (a multi-field such as process.name.text).
struct JsonTree {
  std::map<std::string, JsonTree> children;
  std::optional<std::vector<Sample>> value;

  void put(std::string_view name, const std::vector<Sample>& sample) {
    JsonTree* node = this;
    while (true) {
      if (node->value) return;
      size_t dot = name.find('.');
      JsonTree& child = node->children[std::string(name.substr(0, dot))];
      if (dot == std::string_view::npos) {
        if (child.children.empty()) child.value = sample;
        return;
      }
      node = &child;
      name = name.substr(dot + 1);
    }
  }
  void write(JsonWriter& out) const {
    if (value) {
      if (value->size() > 1) out.begin_array();
      for (const Sample& item : *value) {
        switch (item.kind) {
          case Sample::Kind::Integer: out.value(item.integer); break;
          case Sample::Kind::Float: out.raw(std::to_string(item.number)); break;
          case Sample::Kind::Bool: out.value(item.flag); break;
          default: out.value(item.text);
        }
      }
      if (value->size() > 1) out.end_array();
      return;
    }
    out.begin_object();
    for (const auto& [key, child] : children) {
      out.key(key);
      child.write(out);
    }
    out.end_object();
  }
};

std::string iso_time(int64_t millis) {
  return format_iso8601(millis * 1'000'000);
}

// Writes the events that should make one query fire (and near misses of
// them): per alternative, the positive events, then a variant per changed
// field among the first two each step sets.
void synthesise(const eql::Query& query, const std::string& tag, int64_t base_millis,
                std::string& out) {
  std::vector<const eql::EventFilter*> filters;
  std::vector<std::vector<const eql::Expr*>> keys;  // per filter: its join keys
  std::vector<int64_t> repeats;
  if (query.kind == eql::QueryKind::Event) {
    filters.push_back(&query.event);
    keys.emplace_back();
    repeats.push_back(1);
  } else {
    for (const eql::Step& step : query.steps) {
      if (step.missing) continue;
      filters.push_back(&step.filter);
      std::vector<const eql::Expr*> step_keys;
      for (const auto& key : query.by) step_keys.push_back(key.get());
      for (const auto& key : step.by) step_keys.push_back(key.get());
      keys.push_back(step_keys);
      repeats.push_back(std::max<int64_t>(1, step.runs.value_or(1)));
    }
  }
  std::vector<Witness> witnesses(filters.size());
  for (size_t i = 0; i < filters.size(); ++i) {
    if (filters[i]->condition) witnesses[i].satisfy(*filters[i]->condition, true);
  }
  // Join keys: one value per key position, the one a step's condition set
  // when there is one.
  size_t key_count = 0;
  for (const auto& k : keys) key_count = std::max(key_count, k.size());
  for (size_t position = 0; position < key_count; ++position) {
    std::vector<Sample> value{text_sample(tag + "-key" + std::to_string(position))};
    for (size_t i = 0; i < filters.size(); ++i) {
      if (position < keys[i].size() && keys[i][position]->kind == eql::ExprKind::Field) {
        for (const auto& [name, sample] : witnesses[i].fields)
          if (name == keys[i][position]->name) value = sample;
      }
    }
    for (size_t i = 0; i < filters.size(); ++i) {
      if (position < keys[i].size() && keys[i][position]->kind == eql::ExprKind::Field &&
          !witnesses[i].find(keys[i][position]->name))
        witnesses[i].fields.emplace_back(keys[i][position]->name, value);
    }
  }
  auto write_events = [&](const std::vector<Witness>& steps, const std::string& variant) {
    int64_t millis = base_millis;
    size_t number = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      for (int64_t r = 0; r < repeats[i]; ++r) {
        JsonTree tree;
        for (const auto& [name, sample] : steps[i].fields) tree.put(name, sample);
        tree.put("@timestamp", {text_sample(iso_time(millis))});
        tree.put("event.ingested", {text_sample(iso_time(millis))});
        tree.put("event.id", {text_sample(tag + variant + "-" + std::to_string(number++))});
        if (!filters[i]->any && !filters[i]->category.empty())
          tree.put("event.category", {text_sample(filters[i]->category)});
        JsonWriter writer;
        tree.write(writer);
        out += writer.str();
        out += '\n';
        millis += 100;
      }
    }
  };
  write_events(witnesses, "");
  // Near misses: one literal changed in one step.
  int variant = 0;
  for (size_t i = 0; i < witnesses.size(); ++i) {
    for (size_t f = 0; f < std::min<size_t>(2, witnesses[i].fields.size()); ++f) {
      std::vector<Witness> near = witnesses;
      near[i].fields[f].second = {changed(near[i].fields[f].second.front())};
      write_events(near, "-miss" + std::to_string(variant++));
    }
  }
}

struct RuleSetInputs {
  fs::path rules;      // detection-rules queries as rule files
  fs::path generated;  // gen_ecs.py telemetry
  fs::path synthetic;  // events built from the queries
  size_t queries = 0;
};

// Writes the detection-rules queries as TOML rules named by their line in
// the query file (rule names stay out of the golden), and the events built
// from them.
RuleSetInputs write_inputs(const fs::path& dir) {
  RuleSetInputs inputs;
  inputs.rules = dir / "rules";
  inputs.generated = dir / "generated.ndjson";
  inputs.synthetic = dir / "synthetic.ndjson";
  fs::create_directories(inputs.rules);
  simdjson::dom::parser parser;
  std::ifstream source(shared_dir() + "/conformance/eql/detection-rules-queries.jsonl");
  std::string line, synthetic;
  int64_t base = 1'790'000'000'000;  // 2026-09-21
  for (size_t number = 0; std::getline(source, line); ++number) {
    simdjson::dom::element item = parser.parse(line);
    bool deprecated = false;
    if (item["deprecated"].get(deprecated) != simdjson::SUCCESS) deprecated = false;
    if (deprecated) continue;
    std::string_view text = item["query"].get_string().value();
    char name[32];
    std::snprintf(name, sizeof name, "dr-%04zu", number);
    std::string toml = "[rule]\nname = \"" + std::string(name) + "\"\nquery = '''\n";
    std::string query(text);
    for (size_t at = 0; (at = query.find("'''", at)) != std::string::npos; at += 6)
      query.replace(at, 3, "\\'\\'\\'");
    toml += query + "\n'''\n";
    simdjson::dom::array index;
    if (item["index"].get(index) == simdjson::SUCCESS)
      toml += "index = " + simdjson::minify(index) + "\n";
    std::string_view override_field;
    if (item["timestamp_override"].get(override_field) == simdjson::SUCCESS)
      toml += "timestamp_override = \"" + std::string(override_field) + "\"\n";
    std::ofstream(inputs.rules / (std::string(name) + ".toml")) << toml;
    ++inputs.queries;

    Parsed parsed = parse(std::string(text));
    if (!parsed.ok()) continue;
    for (size_t a = 0; a < parsed.set.alternatives.size(); ++a) {
      synthesise(parsed.set.alternatives[a], std::string(name) + "-" + std::to_string(a), base,
                 synthetic);
      base += 600'000;  // ten minutes apart: no sequence spans two queries
    }
  }
  std::ofstream(inputs.synthetic) << synthetic;
  int exit_code = 0;
  std::string events = run_program({"/usr/bin/python3", shared_dir() + "/tools/gen_ecs.py",
                                    "--events", "50000", "--hosts", "200", "--miners", "20"},
                                   exit_code);
  EXPECT_EQ(exit_code, 0) << "gen_ecs.py failed";
  std::ofstream(inputs.generated) << events;
  return inputs;
}

// An event without event.id is named by a digest of what the alert copied
// from it (its fields other than kibana.* and the alert's own time).
std::string digest(simdjson::dom::object alert) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (auto [key, value] : alert) {
    if (key.starts_with("kibana.") || key == "@timestamp") continue;
    std::string text = std::string(key) + "=" + simdjson::minify(value) + ";";
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  }
  char out[24];
  std::snprintf(out, sizeof out, "doc-%016llx", static_cast<unsigned long long>(hash));
  return out;
}

// The alerts as "rule<TAB>event ids" lines, sorted: building-block alerts
// grouped under their sequence's group id.
std::vector<std::string> result_lines(const std::string& alerts) {
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> groups;
  std::vector<std::string> lines;
  simdjson::dom::parser parser;
  for_each_line(alerts, [&](std::string_view line, uint64_t) {
    if (line.empty()) return;
    simdjson::dom::element alert = parser.parse(line);
    std::string rule = value_at(alert, "kibana.alert.rule.name");
    if (rule.empty()) {
      std::string_view flat;
      if (alert["kibana.alert.rule.name"].get(flat) == simdjson::SUCCESS) rule = flat;
    }
    std::string group, id = value_at(alert, "event.id");
    std::string_view text;
    if (alert["kibana.alert.group.id"].get(text) == simdjson::SUCCESS) group = text;
    int64_t depth = 0;
    if (alert["kibana.alert.depth"].get(depth) != simdjson::SUCCESS) depth = 0;
    if (id.empty()) id = digest(alert);
    if (group.empty()) {
      lines.push_back(rule + "\t" + id);
    } else if (depth == 1) {  // a building block: one of the sequence's events
      groups[group].first = rule;
      groups[group].second.push_back(id);
    } else {
      groups[group].first = rule;
    }
  });
  for (auto& [group, members] : groups) {
    std::string line = members.first + "\t";
    for (size_t i = 0; i < members.second.size(); ++i) line += (i ? "," : "") + members.second[i];
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(RuleSetGolden, WholeRuleSetResultsAreUnchanged) {
  PICKAXE_REQUIRE_SHARED("conformance/eql/detection-rules-queries.jsonl");
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  fs::path dir = fs::temp_directory_path() / ("pickaxe-golden-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  RuleSetInputs inputs = write_inputs(dir);
  ASSERT_GT(inputs.queries, 1000u);

  std::vector<std::string> args = {PICKAXE_BINARY,
                                   "hunt",
                                   "--format",
                                   "ndjson",
                                   "--detection-time",
                                   "2026-12-01T00:00:00Z",
                                   "--skip-invalid",
                                   "--rules",
                                   inputs.rules.string(),
                                   "--rules",
                                   std::string(PICKAXE_SOURCE_DIR) + "/rules",
                                   inputs.generated.string(),
                                   inputs.synthetic.string()};
  for (const auto& entry :
       fs::directory_iterator(std::string(PICKAXE_SOURCE_DIR) + "/emulations")) {
    if (entry.is_directory()) args.push_back(entry.path().string());
  }
  std::vector<std::string> one = args, two = args;
  one.insert(one.begin() + 2, {"--threads", "1"});
  two.insert(two.begin() + 2, {"--threads", "2"});
  int exit_code = 0;
  std::string err;
  std::string alerts = run_program(one, exit_code, &err);
  ASSERT_EQ(exit_code, 0) << err.substr(0, 4000);
  std::string alerts_two = run_program(two, exit_code);
  ASSERT_EQ(exit_code, 0);
  EXPECT_TRUE(alerts == alerts_two) << "1 and 2 threads differ";  // alert ids are stable

  std::vector<std::string> lines = result_lines(alerts);
  std::set<std::string> rules;
  for (const std::string& line : lines) rules.insert(line.substr(0, line.find('\t')));
  std::string golden_path = std::string(PICKAXE_SOURCE_DIR) + "/tests/data/golden/ruleset.txt";
  std::string actual;
  for (const std::string& line : lines) actual += line + "\n";
  if (std::getenv("PICKAXE_UPDATE_GOLDEN")) {
    fs::create_directories(fs::path(golden_path).parent_path());
    std::ofstream(golden_path) << actual;
  }
  std::cout << "golden: " << lines.size() << " results from " << rules.size()
            << " distinct rules\n";
  std::vector<std::string> expected;
  for_each_line(read_text(golden_path), [&](std::string_view line, uint64_t) {
    if (!line.empty()) expected.emplace_back(line);
  });
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), lines.begin(), lines.end(),
                      std::back_inserter(missing));
  std::set_difference(lines.begin(), lines.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  std::string report;
  for (size_t i = 0; i < std::min<size_t>(20, missing.size()); ++i)
    report += "  missing: " + missing[i] + "\n";
  for (size_t i = 0; i < std::min<size_t>(20, extra.size()); ++i)
    report += "  extra:   " + extra[i] + "\n";
  EXPECT_TRUE(missing.empty() && extra.empty())
      << missing.size() << " results missing, " << extra.size() << " unexpected\n"
      << report;
  EXPECT_GT(rules.size(), 500u) << "the golden should exercise most rules";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pickaxe::testing
