#include "export/from_eql.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "eql/printer.h"
#include "event/field_types.h"
#include "util/strings.h"
#include "util/uuid.h"

namespace pickaxe::sigma {

namespace {

// A Lucene regexp operator with no PCRE form (@ & ~ < > # "), unescaped: `\@` is a plain @.
bool has_lucene_only_operator(std::string_view regex) {
  for (size_t i = 0; i < regex.size(); ++i) {
    if (regex[i] == '\\') {
      ++i;
      continue;
    }
    if (std::string_view("@&~<>#\"").find(regex[i]) != std::string_view::npos) return true;
  }
  return false;
}

using eql::Expr;
using eql::ExprKind;

std::string yaml_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string yaml_key(const std::string& key) {
  bool plain = !key.empty();
  for (char c : key)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                      c == '|' || c == '-' || c == '@');
  return plain ? key : yaml_quote(key);
}

// A literal as Sigma reads it: `*`, `?` and `\` escaped.
std::string escape_literal(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// An EQL wildcard pattern (where a backslash is an ordinary character).
std::string escape_pattern(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += '\\';
    out += c;
  }
  return out;
}

struct Item {
  std::string key;                  // field|modifiers
  std::vector<std::string> values;  // YAML scalars, already quoted
};

struct Search {
  std::string name;
  std::vector<Item> items;
};

// One Sigma rule being written from one EQL event filter.
class Detection {
 public:
  Detection(const Mapping& mapping, const LogsourceMapping& entry, Diagnostics& diagnostics)
      : entry_(entry), diagnostics_(diagnostics) {
    // ECS -> the shortest Sigma name that maps to it (value-mapped ones aside).
    for (const LogsourceMapping& other : mapping.entries()) {
      if (&other != &entry_ && (other.logsource.product != entry_.logsource.product ||
                                other.logsource.category != entry_.logsource.category ||
                                other.logsource.service != entry_.logsource.service))
        continue;
      for (const auto& [sigma_name, field] : other.fields) {
        if (!field.values.empty()) continue;
        auto [it, inserted] = reverse_.try_emplace(field.field, sigma_name);
        if (!inserted && sigma_name.size() < it->second.size()) it->second = sigma_name;
      }
    }
  }

  std::string sigma_field(const std::string& ecs) const {
    auto it = reverse_.find(ecs);
    return it == reverse_.end() ? ecs : it->second;
  }

  void fail(const Expr& at, std::string message, std::string hint = {}) {
    diagnostics_.error("sigma-export", at.span, std::move(message), std::move(hint));
    ok_ = false;
  }

  std::string add_search(std::vector<Item> items) {
    Search search{fmt::format("selection_{}", searches_.size() + 1), std::move(items)};
    searches_.push_back(std::move(search));
    return searches_.back().name;
  }

  // The condition for an expression; tests of an `and` share one search
  // where their keys differ.
  std::string condition(const Expr& expr, int& precedence) {
    precedence = 3;
    switch (expr.kind) {
      case ExprKind::And: {
        std::vector<std::string> parts;
        std::vector<Item> group;
        auto flush = [&] {
          if (!group.empty()) parts.push_back(add_search(std::move(group)));
          group.clear();
        };
        for (const auto& child : expr.args) {
          if (auto item = simple(*child)) {
            bool clash = std::any_of(group.begin(), group.end(),
                                     [&](const Item& other) { return other.key == item->key; });
            if (clash) flush();
            group.push_back(std::move(*item));
            continue;
          }
          int inner = 0;
          std::string part = condition(*child, inner);
          parts.push_back(inner < 1 ? "(" + part + ")" : part);
        }
        flush();
        precedence = parts.size() > 1 ? 1 : 3;
        return join(parts, " and ");
      }
      case ExprKind::Or: {
        std::vector<std::string> parts;
        for (const auto& child : expr.args) {
          int inner = 0;
          parts.push_back(condition(*child, inner));
        }
        precedence = 0;
        return join(parts, " or ");
      }
      case ExprKind::Not: return negation(*expr.args[0], precedence);
      default: {
        // `not in` and `!=` are the negations of the tests `in` and `==`.
        const bool negative =
            (expr.kind == ExprKind::In && expr.negated) ||
            (expr.kind == ExprKind::Compare && expr.compare == eql::CompareOp::NotEqual);
        if (auto item = simple(expr)) return add_search({std::move(*item)});
        if (negative && simple(expr, true)) return negation(expr, precedence, true);
        fail(expr, "this test has no Sigma form",
             "Sigma tests fields against values: ==, in, :, like, regex, cidrmatch, "
             "startsWith, endsWith, stringContains, <, >");
        return "selection_error";
      }
    }
  }

  const std::vector<Search>& searches() const { return searches_; }
  bool ok() const { return ok_; }

 private:
  static std::string join(const std::vector<std::string>& parts, const char* glue) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? glue : "") + parts[i];
    return out;
  }

  // EQL's `not` is null where its operand is (a missing field); Sigma's
  // passes such events. The fields under the `not` must exist, as in EQL.
  // With `positive`, the operand is a `not in` or `!=` whose positive test
  // is negated.
  std::string negation(const Expr& operand, int& precedence, bool positive = false) {
    std::set<std::string> fields;
    eql::walk(operand, [&](const Expr& node) {
      if (node.kind == ExprKind::Field) fields.insert(node.name);
    });
    std::vector<Item> exists;
    for (const std::string& field : fields)
      exists.push_back({sigma_field(field) + "|exists", {"true"}});
    int inner = 3;
    std::string negated =
        positive ? add_search({std::move(*simple(operand, true))}) : condition(operand, inner);
    negated = "not " + (inner < 3 ? "(" + negated + ")" : negated);
    precedence = 1;
    if (exists.empty()) {
      precedence = 2;
      return negated;
    }
    return add_search(std::move(exists)) + " and " + negated;
  }

  const Expr* field_of(const Expr& expr) { return expr.kind == ExprKind::Field ? &expr : nullptr; }

  // A test that is one Sigma item (`field|modifiers: values`), or nothing.
  // With `positive`, a `not in` or `!=` gives the item of its positive test.
  std::optional<Item> simple(const Expr& expr, bool positive = false) {
    switch (expr.kind) {
      case ExprKind::Field: return Item{sigma_field(expr.name), {"true"}};
      case ExprKind::Compare: {
        const Expr* field = field_of(*expr.args[0]);
        const Expr* other = expr.args[1].get();
        if (!field) {
          field = field_of(*expr.args[1]);
          other = expr.args[0].get();
          if (!field) return std::nullopt;
        }
        const std::string name = sigma_field(field->name);
        const eql::CompareOp op = positive && expr.compare == eql::CompareOp::NotEqual
                                      ? eql::CompareOp::Equal
                                      : expr.compare;
        if (other->kind == ExprKind::Field) {
          if (op != eql::CompareOp::Equal) return std::nullopt;
          return Item{name + "|fieldref", {yaml_quote(sigma_field(other->name))}};
        }
        if (other->kind != ExprKind::Literal) return std::nullopt;
        const eql::Value& value = other->literal;
        const bool number =
            value.type == eql::Value::Type::Integer || value.type == eql::Value::Type::Float;
        switch (op) {
          case eql::CompareOp::Equal:
            if (value.is_string())
              return Item{name + "|cased", {yaml_quote(escape_literal(value.string))}};
            return Item{name, {eql::print_literal(value)}};  // null, a boolean, a number
          case eql::CompareOp::NotEqual:
            if (value.type == eql::Value::Type::Null) return Item{name + "|exists", {"true"}};
            return std::nullopt;
          default: {
            if (!number || field != expr.args[0].get()) return std::nullopt;
            const char* modifier = op == eql::CompareOp::Less        ? "lt"
                                   : op == eql::CompareOp::LessEqual ? "lte"
                                   : op == eql::CompareOp::Greater   ? "gt"
                                                                     : "gte";
            return Item{fmt::format("{}|{}", name, modifier), {eql::print_literal(value)}};
          }
        }
      }
      case ExprKind::In: {
        if (expr.negated && !positive) return std::nullopt;
        const Expr* field = field_of(*expr.args[0]);
        if (!field) return std::nullopt;
        Item item{sigma_field(field->name) + (expr.insensitive ? "" : "|cased"), {}};
        bool strings = false;
        for (size_t i = 1; i < expr.args.size(); ++i) {
          const Expr& arg = *expr.args[i];
          if (arg.kind != ExprKind::Literal) return std::nullopt;
          if (arg.literal.type == eql::Value::Type::String) {
            strings = true;
            item.values.push_back(yaml_quote(escape_literal(arg.literal.string)));
          } else if (arg.literal.type == eql::Value::Type::Integer ||
                     arg.literal.type == eql::Value::Type::Float) {
            item.values.push_back(eql::print_literal(arg.literal));
          } else {
            return std::nullopt;
          }
        }
        if (!strings) item.key = sigma_field(field->name);
        return item;
      }
      case ExprKind::Match: {
        const Expr* field = field_of(*expr.args[0]);
        if (!field) return std::nullopt;
        const std::string name = sigma_field(field->name);
        // `:` with CIDRs on an address field tests membership, as Elasticsearch does.
        if (expr.match == eql::MatchOp::Colon &&
            FieldTypes::ecs().find(field->name) == FieldType::Ip) {
          Item cidr{name + "|cidr", {}};
          for (size_t i = 1; i < expr.args.size(); ++i) {
            const Expr& arg = *expr.args[i];
            if (arg.kind != ExprKind::Literal || !arg.literal.is_string() ||
                arg.literal.string.find('/') == std::string::npos)
              break;
            cidr.values.push_back(yaml_quote(arg.literal.string));
          }
          if (cidr.values.size() + 1 == expr.args.size()) return cidr;
        }
        Item item;
        if (expr.match == eql::MatchOp::Regex) {
          item.key = name + (expr.insensitive ? "|re|i" : "|re");
        } else {
          const bool insensitive = expr.match == eql::MatchOp::Colon || expr.insensitive;
          item.key = insensitive ? name : name + "|cased";
        }
        for (size_t i = 1; i < expr.args.size(); ++i) {
          const Expr& arg = *expr.args[i];
          if (arg.kind != ExprKind::Literal || !arg.literal.is_string()) return std::nullopt;
          const std::string& text = arg.literal.string;
          if (expr.match != eql::MatchOp::Regex) {
            item.values.push_back(yaml_quote(escape_pattern(text)));
            continue;
          }
          if (has_lucene_only_operator(text)) {
            fail(arg, "a Lucene-only regexp operator (@ & ~ < > # \") has no PCRE form");
            return std::nullopt;
          }
          item.values.push_back(yaml_quote("^(?:" + text + ")$"));
        }
        return item;
      }
      case ExprKind::Call: {
        const std::string function = to_lower(expr.name);
        if (expr.args.empty()) return std::nullopt;
        const Expr* field = field_of(*expr.args[0]);
        if (!field) return std::nullopt;
        const std::string name = sigma_field(field->name);
        std::vector<std::string> values;
        for (size_t i = 1; i < expr.args.size(); ++i) {
          const Expr& arg = *expr.args[i];
          if (arg.kind != ExprKind::Literal || !arg.literal.is_string()) return std::nullopt;
          values.push_back(yaml_quote(
              function == "cidrmatch" ? arg.literal.string : escape_literal(arg.literal.string)));
        }
        const std::string cased = expr.insensitive ? "" : "|cased";
        if (function == "cidrmatch") return Item{name + "|cidr", values};
        if (values.size() != 1) return std::nullopt;
        if (function == "startswith") return Item{name + "|startswith" + cased, values};
        if (function == "endswith") return Item{name + "|endswith" + cased, values};
        if (function == "stringcontains") return Item{name + "|contains" + cased, values};
        return std::nullopt;
      }
      default: return std::nullopt;
    }
  }

  const LogsourceMapping& entry_;
  Diagnostics& diagnostics_;
  std::map<std::string, std::string> reverse_;
  std::vector<Search> searches_;
  bool ok_ = true;
};

// The top-level `and` terms of a filter's condition.
std::vector<const Expr*> conjuncts(const Expr* condition) {
  std::vector<const Expr*> out;
  if (!condition) return out;
  if (condition->kind == ExprKind::And)
    for (const auto& arg : condition->args) out.push_back(arg.get());
  else
    out.push_back(condition);
  return out;
}

// Whether a top-level term tests `field` for one of `values` (==, in, :).
bool tests(const eql::EventFilter& filter, const std::string& field,
           const std::vector<std::string>& values) {
  for (const Expr* term : conjuncts(filter.condition.get())) {
    if (term->args.empty() || term->args[0]->kind != ExprKind::Field ||
        term->args[0]->name != field)
      continue;
    if (term->kind == ExprKind::In && term->negated) continue;
    if (term->kind == ExprKind::Compare && term->compare != eql::CompareOp::Equal) continue;
    if (term->kind != ExprKind::Compare && term->kind != ExprKind::In &&
        term->kind != ExprKind::Match)
      continue;
    bool all_known = term->args.size() > 1;
    for (size_t i = 1; i < term->args.size(); ++i) {
      const Expr& arg = *term->args[i];
      all_known = all_known && arg.kind == ExprKind::Literal && arg.literal.is_string() &&
                  (values.empty() ||
                   std::find(values.begin(), values.end(), arg.literal.string) != values.end() ||
                   (values.size() == 1 && values[0].front() == '*' &&
                    arg.literal.string.ends_with(values[0].substr(1))));
    }
    if (all_known) return true;
  }
  return false;
}

// The logsource a filter fits exactly: the Sigma category's conditions must
// already hold for the events the filter matches, else it is written over
// ECS as it is.
struct Chosen {
  Logsource logsource;
  std::string category_test;  // for `ecs`: the EQL category, tested as event.category
};

Chosen choose(const eql::EventFilter& filter) {
  const std::string category = filter.any ? "" : filter.category;
  if (category == "process" && tests(filter, "event.type", {"start"}))
    return {{"", "process_creation", ""}, {}};
  if (category == "network" && tests(filter, "dns.question.name", {})) return {{"", "dns", ""}, {}};
  if (category == "network" && tests(filter, "event.type", {"start", "connection"}))
    return {{"", "network_connection", ""}, {}};
  if (category == "file" && tests(filter, "event.type", {"creation", "change"}))
    return {{"", "file_event", ""}, {}};
  if (tests(filter, "event.provider", {"*.amazonaws.com"}) ||
      tests(filter, "event.dataset", {"aws.cloudtrail"}))
    return {{"aws", "", "cloudtrail"}, category};
  return {{"ecs", "", ""}, category};
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string level_of(const std::string& severity) {
  return severity == "critical" || severity == "high" || severity == "medium" ? severity : "low";
}

std::vector<std::string> tags_of(const pickaxe::Rule& rule) {
  std::vector<std::string> tags;
  auto add = [&](std::string tag) {
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
  };
  for (const Threat& threat : rule.threats) {
    if (!threat.tactic_name.empty()) {
      std::string tactic = to_lower(threat.tactic_name);
      std::replace(tactic.begin(), tactic.end(), ' ', '_');
      add("attack." + tactic);
    }
    for (const ThreatTechnique& technique : threat.techniques) {
      add("attack." + to_lower(technique.id));
      for (const ThreatTechnique& sub : technique.subtechniques) add("attack." + to_lower(sub.id));
    }
  }
  return tags;
}

struct Header {
  std::string title, id, name;
  bool metadata = true;  // description, author, tags ... (not for correlated steps)
};

std::string document(const pickaxe::Rule& rule, const Header& header, const std::string& body) {
  std::string out = fmt::format("title: {}\nid: {}\n", yaml_quote(header.title), header.id);
  if (!header.name.empty()) out += fmt::format("name: {}\n", header.name);
  if (header.metadata) {
    out += "status: experimental\n";
    if (!rule.description.empty()) {
      out += "description: |\n";
      for (std::string_view line : split_lines(rule.description))
        out += line.empty() ? std::string("\n") : fmt::format("    {}\n", line);
    }
    if (!rule.references.empty()) {
      out += "references:\n";
      for (const std::string& reference : rule.references)
        out += fmt::format("    - {}\n", yaml_quote(reference));
    }
    if (!rule.author.empty()) {
      std::string authors;
      for (const std::string& author : rule.author)
        authors += (authors.empty() ? "" : ", ") + author;
      out += fmt::format("author: {}\n", yaml_quote(authors));
    }
    std::vector<std::string> tags = tags_of(rule);
    if (!tags.empty()) {
      out += "tags:\n";
      for (const std::string& tag : tags) out += fmt::format("    - {}\n", tag);
    }
  }
  // The data streams an Elastic rule reads: a custom attribute pickaxe reads
  // back; other Sigma tools pass it by.
  if (!rule.index.empty()) {
    out += "index:\n";
    for (const std::string& index : rule.index) out += fmt::format("    - {}\n", yaml_quote(index));
  }
  out += body;
  if (header.metadata) {
    if (!rule.false_positives.empty()) {
      out += "falsepositives:\n";
      for (const std::string& fp : rule.false_positives)
        out += fmt::format("    - {}\n", yaml_quote(fp));
    }
    out += fmt::format("level: {}\n", level_of(rule.severity));
  }
  return out;
}

// logsource and detection of one event filter; empty on failure.
std::string detection_body(const eql::EventFilter& filter, const Mapping& mapping,
                           Diagnostics& diagnostics,
                           const std::vector<std::string>* key_fields = nullptr,
                           std::vector<std::string>* keys_out = nullptr) {
  Chosen chosen = choose(filter);
  const LogsourceMapping* entry = mapping.find(chosen.logsource);
  if (!entry) {
    diagnostics.error("sigma-export", filter.span,
                      "no logsource mapping to write this filter with");
    return {};
  }
  Detection detection(mapping, *entry, diagnostics);
  std::string condition;
  int precedence = 0;
  if (filter.condition && !(filter.condition->kind == ExprKind::Literal &&
                            filter.condition->literal.type == eql::Value::Type::Bool &&
                            filter.condition->literal.boolean))
    condition = detection.condition(*filter.condition, precedence);
  if (!chosen.category_test.empty()) {
    std::string category = detection.sigma_field("event.category");
    std::string search =
        detection.add_search({{category + "|cased", {yaml_quote(chosen.category_test)}}});
    condition = condition.empty()
                    ? search
                    : search + " and " + (precedence < 1 ? "(" + condition + ")" : condition);
  }
  if (condition.empty()) {
    diagnostics.error("sigma-export", filter.span,
                      "a filter that matches every event has no Sigma form",
                      "Sigma detections test at least one field");
    return {};
  }
  if (!detection.ok()) return {};
  if (key_fields && keys_out)
    for (const std::string& field : *key_fields) keys_out->push_back(detection.sigma_field(field));
  std::string out = "logsource:\n";
  if (!chosen.logsource.product.empty())
    out += fmt::format("    product: {}\n", chosen.logsource.product);
  if (!chosen.logsource.category.empty())
    out += fmt::format("    category: {}\n", chosen.logsource.category);
  if (!chosen.logsource.service.empty())
    out += fmt::format("    service: {}\n", chosen.logsource.service);
  out += "detection:\n";
  for (const Search& search : detection.searches()) {
    out += fmt::format("    {}:\n", search.name);
    for (const Item& item : search.items) {
      if (item.values.size() == 1) {
        out += fmt::format("        {}: {}\n", yaml_key(item.key), item.values[0]);
        continue;
      }
      out += fmt::format("        {}:\n", yaml_key(item.key));
      for (const std::string& value : item.values) out += fmt::format("            - {}\n", value);
    }
  }
  out += fmt::format("    condition: {}\n", condition);
  return out;
}

std::string timespan_of(const eql::Duration& duration) {
  int64_t seconds = duration.nanoseconds() / 1'000'000'000;
  if (seconds > 0 && seconds % 86400 == 0) return fmt::format("{}d", seconds / 86400);
  if (seconds > 0 && seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
  if (seconds > 0 && seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
  return fmt::format("{}s", std::max<int64_t>(1, seconds));
}

std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(c));
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "rule" : out;
}

std::string field_key(const Expr& key, Diagnostics& diagnostics) {
  if (key.kind != ExprKind::Field) {
    diagnostics.error("sigma-export", key.span, "Sigma groups by fields, not expressions");
    return {};
  }
  return key.name;
}

}  // namespace

std::string to_sigma(const pickaxe::Rule& rule, const Mapping& mapping, Diagnostics& diagnostics) {
  const size_t errors = diagnostics.error_count();
  std::string out;
  const size_t alternatives = rule.query.alternatives.size();
  for (size_t a = 0; a < alternatives; ++a) {
    const eql::Query& query = rule.query.alternatives[a];
    const std::string suffix = alternatives > 1 ? fmt::format(" (query {})", a + 1) : "";
    const std::string id =
        alternatives > 1 ? stable_uuid(fmt::format("{}\n{}", rule.rule_id, a)) : rule.rule_id;
    if (!out.empty()) out += "---\n";
    if (query.kind == eql::QueryKind::Event || query.is_single_step_sequence()) {
      const eql::EventFilter& filter =
          query.kind == eql::QueryKind::Event ? query.event : query.steps[0].filter;
      if (!query.pipes.empty())
        diagnostics.error("sigma-export", query.pipes[0].span, "Sigma has no head or tail");
      std::string body = detection_body(filter, mapping, diagnostics);
      out += document(rule, {rule.name + suffix, id, {}}, body);
      continue;
    }
    if (query.kind == eql::QueryKind::Sample) {
      diagnostics.error("sigma-export", query.keyword_span,
                        "a sample has no Sigma form: Sigma correlations are counts and "
                        "sequences within a timespan");
      continue;
    }
    // A sequence: a temporal_ordered correlation over one rule per step.
    diagnostics.add(Severity::Note, "sigma-export", query.keyword_span,
                    "Sigma has no sequences: this one is written as a temporal_ordered "
                    "correlation over one rule per step, grouped by its join keys");
    if (!query.maxspan)
      diagnostics.error("sigma-export", query.keyword_span,
                        "a sequence without maxspan has no Sigma form: a correlation needs a "
                        "timespan",
                        "add `with maxspan=<duration>`");
    if (query.until)
      diagnostics.error("sigma-export", query.until->span, "Sigma correlations have no `until`");
    if (!query.pipes.empty())
      diagnostics.error("sigma-export", query.pipes[0].span, "Sigma has no head or tail");
    std::vector<std::string> names, documents;
    std::vector<std::vector<std::string>> keys_by_step;  // Sigma names of each step's keys
    for (size_t s = 0; s < query.steps.size(); ++s) {
      const eql::Step& step = query.steps[s];
      if (step.missing) {
        diagnostics.error("sigma-export", step.span,
                          "Sigma correlations have no missing-event steps");
        continue;
      }
      std::vector<std::string> key_fields;
      for (const auto& key : query.by) key_fields.push_back(field_key(*key, diagnostics));
      for (const auto& key : step.by) key_fields.push_back(field_key(*key, diagnostics));
      std::vector<std::string> keys;
      std::string name = fmt::format("{}_step_{}", slug(rule.name + suffix), s + 1);
      std::string body = detection_body(step.filter, mapping, diagnostics, &key_fields, &keys);
      documents.push_back(
          document(rule,
                   {fmt::format("{} (step {})", rule.name + suffix, s + 1),
                    stable_uuid(fmt::format("{}\n{}\nstep {}", rule.rule_id, a, s)), name, false},
                   body));
      // `with runs=N` stands for N steps: the rule appears N times in order.
      for (int64_t r = 0; r < step.runs.value_or(1); ++r) names.push_back(name);
      keys_by_step.push_back(keys);
    }
    std::string correlation = "correlation:\n    type: temporal_ordered\n    rules:\n";
    for (const std::string& name : names) correlation += fmt::format("        - {}\n", name);
    // Group-by: one name per key; an alias where steps name the key differently.
    const size_t key_count = keys_by_step.empty() ? 0 : keys_by_step[0].size();
    std::string group_by = "    group-by:\n", aliases;
    for (size_t k = 0; k < key_count; ++k) {
      bool same = std::all_of(keys_by_step.begin(), keys_by_step.end(),
                              [&](const auto& keys) { return keys[k] == keys_by_step[0][k]; });
      if (same) {
        group_by += fmt::format("        - {}\n", yaml_key(keys_by_step[0][k]));
        continue;
      }
      std::string alias = fmt::format("key_{}", k + 1);
      group_by += fmt::format("        - {}\n", alias);
      aliases += fmt::format("        {}:\n", alias);
      for (size_t s = 0; s < keys_by_step.size(); ++s)
        aliases += fmt::format("            {}_step_{}: {}\n", slug(rule.name + suffix), s + 1,
                               yaml_key(keys_by_step[s][k]));
    }
    if (key_count > 0) correlation += group_by;
    if (!aliases.empty()) correlation += "    aliases:\n" + aliases;
    if (query.maxspan)
      correlation += fmt::format("    timespan: {}\n", timespan_of(*query.maxspan));
    out += document(rule, {rule.name + suffix, id, {}}, correlation);
    for (const std::string& step : documents) out += "---\n" + step;
  }
  if (diagnostics.error_count() > errors) return {};
  return out;
}

}  // namespace pickaxe::sigma
