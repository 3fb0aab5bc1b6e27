// Events synthesised from an EQL query's own fields and literals: the
// events that should make it fire, then near misses that change one literal.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eql/ast.h"
#include "event/date_format.h"
#include "util/json_writer.h"

namespace pickaxe::testing {

// A value a synthesised event gives a field.
struct Sample {
  enum class Kind : uint8_t { String, Integer, Float, Bool } kind = Kind::String;
  std::string text;
  int64_t integer = 0;
  double number = 0;
  bool flag = false;
};

inline Sample text_sample(std::string text) {
  Sample sample;
  sample.text = std::move(text);
  return sample;
}

inline Sample of_literal(const eql::Value& value) {
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
inline std::string instantiate(std::string_view pattern) {
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
inline Sample changed(Sample sample) {
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

inline std::string iso_time(int64_t millis) {
  return format_iso8601(millis * 1'000'000);
}

// Writes the events that should make one query fire (and near misses of
// them): per alternative, the positive events, then a variant per changed
// field among the first two each step sets.
inline void synthesise(const eql::Query& query, const std::string& tag, int64_t base_millis,
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

}  // namespace pickaxe::testing
