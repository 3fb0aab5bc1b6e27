#include "match/literals.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace pickaxe {

namespace {

using eql::ExprKind;
using Literals = std::vector<Literal>;

// Fields whose values recur in most events (categories, types, data
// streams): their literals are used only when a filter offers nothing rarer.
bool vocabulary(std::string_view path) {
  for (std::string_view prefix : {"event.", "data_stream.", "host.os.", "agent.", "ecs.", "_index"})
    if (path.starts_with(prefix)) return true;
  return false;
}

bool numeric_text(std::string_view text) {
  return text.find_first_not_of("0123456789.+-eE") == std::string_view::npos;
}

// The longest piece of `text` that a JSON writer copies verbatim: no quote,
// backslash or control character, which are escaped (any other character
// written as \uXXXX, or / as \/, makes its line a hit by itself). A piece
// at an end of a whole string value carries the JSON quote there.
std::string verbatim_piece(std::string_view text, bool wildcard) {
  std::string_view best;
  size_t best_score = 0;
  bool best_first = false, best_last = false;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    bool cut = i == text.size();
    if (!cut) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      cut = c == '"' || c == '\\' || c < 0x20 || c == 0x7f || (wildcard && (c == '*' || c == '?'));
    }
    if (!cut) continue;
    std::string_view piece = text.substr(start, i - start);
    bool first = start == 0, last = i == text.size();
    size_t score = piece.empty() ? 0 : piece.size() + first + last;
    if (score > best_score) {
      best = piece;
      best_score = score;
      best_first = first;
      best_last = last;
    }
    start = i + 1;
  }
  if (best.empty()) return "";
  // Numbers and booleans in keyword fields become strings: their JSON has no quotes.
  std::string lower(best);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (numeric_text(best) || lower == "true" || lower == "false") return std::string(best);
  return fmt::format("{}{}{}", best_first ? "\"" : "", best, best_last ? "\"" : "");
}

std::string last_key(std::string_view path) {
  size_t dot = path.rfind('.');
  return std::string(dot == std::string_view::npos ? path : path.substr(dot + 1));
}

std::optional<Literal> literal_of(std::string_view text, bool wildcard, std::string_view path) {
  Literal literal;
  literal.text = verbatim_piece(text, wildcard);
  if (literal.text.empty()) return std::nullopt;
  literal.numeric = numeric_text(literal.text);  // quoted pieces are not numeric
  literal.key = last_key(path);
  int length = static_cast<int>(std::min<size_t>(literal.text.size(), 12));
  literal.strength = (vocabulary(path) ? 0 : 20) + (literal.numeric ? length - 1 : length);
  // One or two characters (":", "0", "/b") occur in nearly every line.
  if (length < 3) literal.strength = length - 3;
  return literal;
}

// The literal a constant compared for equality must show in the JSON text.
std::optional<Literal> constant_literal(const Scalar& value, std::string_view path) {
  switch (value.type) {
    case Scalar::Type::String: return literal_of(value.string, false, path);
    case Scalar::Type::Long: {
      if (value.integer == std::numeric_limits<int64_t>::min()) return std::nullopt;
      auto literal = literal_of(std::to_string(value.integer < 0 ? -value.integer : value.integer),
                                false, path);
      return literal;
    }
    case Scalar::Type::Bool: {
      auto literal = literal_of(value.boolean ? "true" : "false", false, path);
      if (literal) literal->strength = 1;
      return literal;
    }
    default: return std::nullopt;  // doubles have too many spellings; null matches absence
  }
}

// A set is as good as its commonest literal, and better with fewer literals.
bool better(const Literals& a, const Literals& b) {
  auto weakest = [](const Literals& set) {
    int strength = INT32_MAX;
    for (const Literal& literal : set) strength = std::min(strength, literal.strength);
    return strength;
  };
  int x = weakest(a), y = weakest(b);
  if (x != y) return x > y;
  return a.size() < b.size();
}

// What literal derivation reads: field paths, and which fields extraction
// may fill with a value the JSON does not hold (a mapping's null_value).
struct Context {
  const FieldIndex& fields;
  const std::vector<SlotSchema>* slots;
};

// The field a comparison reads, when its values are the JSON's own.
const Node* field_of(const Node& node, const Context& context) {
  if (node.kind != ExprKind::Field) return nullptr;
  if (context.slots && node.slot < context.slots->size() && (*context.slots)[node.slot].null_value)
    return nullptr;
  return &node;
}

std::optional<Literals> literals_of(const Node& node, const Context& context) {
  const FieldIndex& fields = context.fields;
  switch (node.kind) {
    case ExprKind::And: {
      std::optional<Literals> best;
      for (const NodePtr& child : node.children) {
        auto set = literals_of(*child, context);
        if (set && (!best || better(*set, *best))) best = std::move(set);
      }
      return best;
    }
    case ExprKind::Or: {
      Literals all;
      for (const NodePtr& child : node.children) {
        auto set = literals_of(*child, context);
        if (!set) return std::nullopt;
        all.insert(all.end(), set->begin(), set->end());
      }
      return all;
    }
    case ExprKind::Compare: {
      if (node.compare != eql::CompareOp::Equal || node.compare_mode != CompareMode::Generic ||
          node.children.size() != 2)
        return std::nullopt;
      const Node* field = field_of(*node.children[0], context);
      const Node* constant = node.children[1].get();
      if (!field) {
        field = field_of(*node.children[1], context);
        constant = node.children[0].get();
      }
      if (!field || constant->kind != ExprKind::Literal) return std::nullopt;
      auto literal = constant_literal(constant->literal, fields.path(field->slot));
      if (!literal) return std::nullopt;
      return Literals{*literal};
    }
    case ExprKind::In: {
      if (node.negated || !node.constant_items || node.children.empty()) return std::nullopt;
      const Node* field = field_of(*node.children[0], context);
      if (!field) return std::nullopt;
      const std::string& path = fields.path(field->slot);
      Literals set;
      for (size_t i = 1; i < node.children.size(); ++i) {
        auto literal = constant_literal(node.children[i]->literal, path);
        if (!literal) return std::nullopt;
        set.push_back(*literal);
      }
      if (set.empty()) return std::nullopt;
      return set;
    }
    case ExprKind::Match: {
      if (!node.cidrs.empty() || !node.regexes.empty() || node.wildcards.empty())
        return std::nullopt;
      const Node* field = field_of(*node.children[0], context);
      if (!field) return std::nullopt;
      Literals set;
      for (const std::string& pattern : node.wildcards) {
        auto literal = literal_of(pattern, true, fields.path(field->slot));
        if (!literal) return std::nullopt;
        set.push_back(*literal);
      }
      return set;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::vector<std::vector<Literal>> literal_clauses(const CompiledFilter& filter,
                                                  const FieldIndex& fields,
                                                  const std::vector<SlotSchema>* slots) {
  const Context context{fields, slots};
  std::vector<Literals> clauses;
  if (!filter.any)
    clauses.push_back(Literals{*literal_of(filter.category, false, "event.category")});
  if (!filter.condition) return clauses;
  const Node& condition = *filter.condition;
  if (condition.kind == ExprKind::And) {
    for (const NodePtr& term : condition.children)
      if (auto set = literals_of(*term, context)) clauses.push_back(std::move(*set));
  } else if (auto set = literals_of(condition, context)) {
    clauses.push_back(std::move(*set));
  }
  return clauses;
}

std::optional<std::vector<Literal>> required_literals(const CompiledFilter& filter,
                                                      const FieldIndex& fields,
                                                      const std::vector<SlotSchema>* slots) {
  std::optional<Literals> best;
  for (Literals& set : literal_clauses(filter, fields, slots))
    if (!best || better(set, *best)) best = std::move(set);
  return best;
}

std::shared_ptr<const Prefilter> build_prefilter(
    const std::vector<std::vector<const CompiledFilter*>>& groups, const FieldIndex& fields,
    bool detect_sources, const std::vector<SlotSchema>* slots) {
  // Per group, per filter, its clauses; then whether every filter has one.
  std::vector<std::vector<std::vector<Literals>>> all;
  bool every_filter = true;
  for (const auto& group : groups) {
    all.emplace_back();
    for (const CompiledFilter* filter : group) {
      all.back().push_back(literal_clauses(*filter, fields, slots));
      every_filter = every_filter && !all.back().back().empty();
    }
  }
  auto fold = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  std::set<std::string> texts, numeric_keys;
  for (auto& group : all) {
    for (auto& clauses : group) {
      if (every_filter && !clauses.empty()) {
        // Lines are skipped by the rarest clause alone: the others would only add hits.
        Literals best = clauses.front();
        for (Literals& set : clauses)
          if (better(set, best)) best = set;
        clauses = {best};
      }
      for (const Literals& set : clauses) {
        for (const Literal& literal : set) {
          texts.insert(fold(literal.text));
          if (literal.numeric) numeric_keys.insert(literal.key);
        }
      }
    }
  }
  if (texts.empty()) return nullptr;
  std::vector<std::string> literals(texts.begin(), texts.end());
  auto id_of = [&](const std::string& text) {
    auto it = std::lower_bound(literals.begin(), literals.end(), text);
    return static_cast<uint32_t>(it - literals.begin());
  };
  std::vector<std::vector<Prefilter::Clauses>> group_filters;
  for (const auto& group : all) {
    std::vector<Prefilter::Clauses> filters;
    for (const auto& clauses : group) {
      Prefilter::Clauses ids;
      for (const Literals& set : clauses) {
        std::vector<uint32_t> clause;
        for (const Literal& literal : set) clause.push_back(id_of(fold(literal.text)));
        std::sort(clause.begin(), clause.end());
        clause.erase(std::unique(clause.begin(), clause.end()), clause.end());
        ids.push_back(std::move(clause));
      }
      filters.push_back(std::move(ids));
    }
    group_filters.push_back(std::move(filters));
  }
  return Prefilter::compile(std::move(literals),
                            std::vector<std::string>(numeric_keys.begin(), numeric_keys.end()),
                            detect_sources, every_filter, std::move(group_filters));
}

}  // namespace pickaxe
