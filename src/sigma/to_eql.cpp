#include "sigma/to_eql.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "eql/printer.h"
#include "event/field_types.h"
#include "event/patterns.h"
#include "util/strings.h"

namespace pickaxe::sigma {

namespace {

// An EQL expression and how tightly it binds, to parenthesize only where needed.
struct Expr {
  enum Level : uint8_t { Or, And, Not, Atom };
  std::string text;
  Level level = Atom;
};

std::string wrap(const Expr& expr, Expr::Level at_least) {
  return expr.level < at_least ? "(" + expr.text + ")" : expr.text;
}

Expr join(const std::vector<Expr>& parts, Expr::Level level) {
  if (parts.size() == 1) return parts.front();
  const char* glue = level == Expr::Or ? " or " : " and ";
  Expr out{{}, level};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out.text += glue;
    out.text += wrap(parts[i], level == Expr::Or ? Expr::And : Expr::Not);
  }
  return out;
}

Expr negate(const Expr& expr) {
  return {"not " + wrap(expr, Expr::Not), Expr::Not};
}

// ---- values -------------------------------------------------------------------

using Pattern = std::vector<Piece>;

void add_text(Pattern& pattern, std::string_view text) {
  if (text.empty()) return;
  if (!pattern.empty() && pattern.back().kind == Piece::Kind::Text)
    pattern.back().text += text;
  else
    pattern.push_back({Piece::Kind::Text, std::string(text)});
}

bool plain(const Pattern& pattern) {
  return std::all_of(pattern.begin(), pattern.end(),
                     [](const Piece& piece) { return piece.kind == Piece::Kind::Text; });
}

std::string plain_text(const Pattern& pattern) {
  std::string text;
  for (const Piece& piece : pattern) text += piece.text;
  return text;
}

const std::string kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kBase64[(n >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// The three forms a value takes inside base64 text, whatever its offset.
std::vector<std::string> base64_offsets(std::string_view bytes) {
  const size_t starts[] = {0, 2, 3};
  const size_t trims[] = {0, 3, 2};
  std::vector<std::string> out;
  for (size_t shift = 0; shift < 3; ++shift) {
    std::string encoded = base64(std::string(shift, ' ') + std::string(bytes));
    size_t trim = trims[(bytes.size() + shift) % 3];
    size_t end = encoded.size() >= trim ? encoded.size() - trim : 0;
    out.push_back(starts[shift] < end ? encoded.substr(starts[shift], end - starts[shift]) : "");
  }
  return out;
}

// UTF-8 to UTF-16 code units; false on invalid UTF-8.
bool utf16(std::string_view text, bool big_endian, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    uint8_t c = text[i];
    uint32_t code = 0;
    size_t length = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    code = length == 1 ? c : c & (0xFF >> (length + 1));
    for (size_t k = 1; k < length; ++k) code = (code << 6) | (uint8_t(text[i + k]) & 0x3F);
    i += length;
    auto unit = [&](uint16_t u) {
      char high = static_cast<char>(u >> 8), low = static_cast<char>(u & 0xFF);
      out += big_endian ? high : low;
      out += big_endian ? low : high;
    };
    if (code >= 0x10000) {
      code -= 0x10000;
      unit(static_cast<uint16_t>(0xD800 + (code >> 10)));
      unit(static_cast<uint16_t>(0xDC00 + (code & 0x3FF)));
    } else {
      unit(static_cast<uint16_t>(code));
    }
  }
  return true;
}

// `-` and `/` that open an option (at the start or after a space) and the
// Unicode dashes that stand in for them.
const std::vector<std::string> kDashes = {"-", "/", "\u2013", "\u2014", "\u2015"};

std::vector<Pattern> windash(const Pattern& pattern, std::string& error) {
  std::vector<Pattern> out = {{}};
  bool after_space = true;
  size_t places = 0;
  for (const Piece& piece : pattern) {
    if (piece.kind != Piece::Kind::Text) {
      for (Pattern& variant : out) variant.push_back(piece);
      after_space = false;
      continue;
    }
    for (size_t i = 0; i < piece.text.size();) {
      std::string dash;
      for (const std::string& d : kDashes)
        if (piece.text.compare(i, d.size(), d) == 0) dash = d;
      if (!dash.empty() && after_space) {
        if (++places > 3) {
          error = "windash makes 5 variants per dash: at most 3 dashes in one value";
          return {};
        }
        std::vector<Pattern> next;
        for (const Pattern& variant : out) {
          for (const std::string& d : kDashes) {
            next.push_back(variant);
            add_text(next.back(), d);
          }
        }
        out = std::move(next);
        i += dash.size();
        after_space = false;
        continue;
      }
      after_space = piece.text[i] == ' ';
      for (Pattern& variant : out) add_text(variant, piece.text.substr(i, 1));
      ++i;
    }
  }
  return out;
}

// Lucene regexp syntax for a literal text.
std::string lucene_literal(std::string_view text) {
  static const std::string_view special = ".?+*|{}[]()\"\\#@&<>~";
  std::string out;
  for (char c : text) {
    if (special.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string lucene_of(const Pattern& pattern) {
  std::string out;
  for (const Piece& piece : pattern) {
    if (piece.kind == Piece::Kind::Star)
      out += ".*";
    else if (piece.kind == Piece::Kind::Question)
      out += '.';
    else
      out += lucene_literal(piece.text);
  }
  return out;
}

// A wildcard pattern as EQL writes it; false when the text holds a literal
// `*` or `?`, which EQL's wildcards cannot say (a regexp must).
bool eql_wildcard(const Pattern& pattern, std::string& out) {
  out.clear();
  for (const Piece& piece : pattern) {
    if (piece.kind == Piece::Kind::Star)
      out += '*';
    else if (piece.kind == Piece::Kind::Question)
      out += '?';
    else if (piece.text.find_first_of("*?") != std::string::npos)
      return false;
    else
      out += piece.text;
  }
  return true;
}

std::string list(const std::vector<std::string>& literals) {
  if (literals.size() == 1) return literals.front();
  std::string out = "(";
  for (size_t i = 0; i < literals.size(); ++i) out += (i ? ", " : "") + literals[i];
  return out + ")";
}

// ---- the condition ------------------------------------------------------------

struct Condition {
  enum class Kind : uint8_t { Search, And, Or, Not, OneOf, AllOf } kind = Kind::Search;
  std::string name;  // a search, or a pattern for x of ("them": every search)
  std::vector<Condition> children;
};

class ConditionParser {
 public:
  ConditionParser(std::string_view text, std::string& error) : error_(error) {
    for (size_t i = 0; i < text.size();) {
      char c = text[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(' || c == ')' || c == '|') {
        tokens_.emplace_back(1, c);
        ++i;
      } else {
        size_t end = i;
        while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
               text[end] != '(' && text[end] != ')' && text[end] != '|')
          ++end;
        tokens_.emplace_back(text.substr(i, end - i));
        i = end;
      }
    }
  }

  std::optional<Condition> parse() {
    auto result = expression();
    if (result && at_ < tokens_.size()) {
      fail(tokens_[at_] == "|" ? "aggregations after `|` (count, near) are not Sigma 2 "
                                 "conditions; write a correlation rule"
                               : fmt::format("unexpected `{}`", tokens_[at_]));
      return std::nullopt;
    }
    return result;
  }

 private:
  std::string peek() const { return at_ < tokens_.size() ? to_lower(tokens_[at_]) : ""; }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  std::optional<Condition> binary(Condition::Kind kind, const char* word,
                                  std::optional<Condition> (ConditionParser::*next)()) {
    auto left = (this->*next)();
    if (!left) return std::nullopt;
    if (peek() != word) return left;
    Condition node{kind, {}, {std::move(*left)}};
    while (peek() == word) {
      ++at_;
      auto right = (this->*next)();
      if (!right) return std::nullopt;
      node.children.push_back(std::move(*right));
    }
    return node;
  }
  std::optional<Condition> expression() {
    return binary(Condition::Kind::Or, "or", &ConditionParser::conjunction);
  }
  std::optional<Condition> conjunction() {
    return binary(Condition::Kind::And, "and", &ConditionParser::negation);
  }
  std::optional<Condition> negation() {
    // Nesting is bounded, so that no condition can exhaust the stack.
    if (++depth_ > kMaxDepth) {
      fail(fmt::format("the condition nests deeper than {} levels", kMaxDepth));
      return std::nullopt;
    }
    struct Leave {
      int& depth;
      ~Leave() { --depth; }
    } leave{depth_};
    if (peek() == "not") {
      ++at_;
      auto inner = negation();
      if (!inner) return std::nullopt;
      return Condition{Condition::Kind::Not, {}, {std::move(*inner)}};
    }
    return primary();
  }
  std::optional<Condition> primary() {
    std::string token = peek();
    if (token.empty()) {
      fail("the condition ends too early");
      return std::nullopt;
    }
    if (token == "(") {
      ++at_;
      auto inner = expression();
      if (!inner) return std::nullopt;
      if (peek() != ")") {
        fail("a `(` is not closed");
        return std::nullopt;
      }
      ++at_;
      return inner;
    }
    if (token == ")" || token == "and" || token == "or" || token == "|") {
      fail(fmt::format("expected a search identifier, found `{}`", token));
      return std::nullopt;
    }
    if ((token == "1" || token == "all" || token == "any") && at_ + 1 < tokens_.size() &&
        to_lower(tokens_[at_ + 1]) == "of") {
      at_ += 2;
      if (at_ >= tokens_.size() || tokens_[at_] == "(" || tokens_[at_] == ")") {
        fail(fmt::format("`{} of` needs a search pattern or `them`", token));
        return std::nullopt;
      }
      Condition node{
          token == "all" ? Condition::Kind::AllOf : Condition::Kind::OneOf, tokens_[at_++], {}};
      return node;
    }
    if (std::isdigit(static_cast<unsigned char>(token[0])) && at_ + 1 < tokens_.size() &&
        to_lower(tokens_[at_ + 1]) == "of") {
      fail(fmt::format("`{} of` is not Sigma: only `1 of` and `all of`", token));
      return std::nullopt;
    }
    return Condition{Condition::Kind::Search, tokens_[at_++], {}};
  }

  static constexpr int kMaxDepth = 64;
  std::vector<std::string> tokens_;
  size_t at_ = 0;
  int depth_ = 0;
  std::string& error_;
};

// ---- the renderer -------------------------------------------------------------

class Renderer {
 public:
  Renderer(const Rule& rule, const Mapping& mapping, const LogsourceMapping& logsource,
           Diagnostics& diagnostics)
      : rule_(rule), mapping_(mapping), logsource_(logsource), diagnostics_(diagnostics) {}

  std::optional<Expr> condition(const Condition& node, bool negative, Span span) {
    switch (node.kind) {
      case Condition::Kind::Search: {
        for (const Search& search : rule_.searches)
          if (search.name == node.name) return render(search, negative);
        diagnostics_.error("sigma-condition", span,
                           fmt::format("the condition names `{}`, which is no search of this "
                                       "rule",
                                       node.name));
        return std::nullopt;
      }
      case Condition::Kind::Not: {
        auto inner = condition(node.children[0], !negative, span);
        if (!inner) return std::nullopt;
        return negate(*inner);
      }
      case Condition::Kind::And:
      case Condition::Kind::Or: {
        // Every child is rendered, so that every problem is reported.
        std::vector<Expr> parts;
        bool ok = true;
        for (const Condition& child : node.children) {
          auto part = condition(child, negative, span);
          if (part)
            parts.push_back(std::move(*part));
          else
            ok = false;
        }
        if (!ok) return std::nullopt;
        return join(parts, node.kind == Condition::Kind::And ? Expr::And : Expr::Or);
      }
      case Condition::Kind::OneOf:
      case Condition::Kind::AllOf: {
        std::vector<Expr> parts;
        const bool them = to_lower(node.name) == "them";
        bool ok = true, any = false;
        for (const Search& search : rule_.searches) {
          if (them ? search.name.starts_with("_") : !wildcard_match(search.name, node.name, false))
            continue;
          any = true;
          auto part = render(search, negative);
          if (part)
            parts.push_back(std::move(*part));
          else
            ok = false;
        }
        if (!ok) return std::nullopt;
        if (!any) {
          diagnostics_.error("sigma-condition", span,
                             fmt::format("`{}` matches no search of this rule", node.name));
          return std::nullopt;
        }
        return join(parts, node.kind == Condition::Kind::AllOf ? Expr::And : Expr::Or);
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<Expr> render(const Search& search, bool negative) {
    std::vector<Expr> groups;
    bool ok = true;
    for (const std::vector<Item>& group : search.groups) {
      std::vector<Expr> items;
      for (const Item& item : group) {
        if (auto expr = this->item(item, negative))
          items.push_back(std::move(*expr));
        else
          ok = false;
      }
      if (!items.empty()) groups.push_back(join(items, Expr::And));
    }
    if (!ok || groups.empty()) return std::nullopt;
    return join(groups, Expr::Or);
  }

  void error(const Item& item, std::string message, std::string hint = {}) {
    diagnostics_.error("sigma-modifier", item.span, std::move(message), std::move(hint));
  }

  // A field test under `not` is guarded so that an event without the field
  // passes the negation, as it does in Sigma's backends (Lucene's NOT); EQL
  // alone would make the whole test null.
  Expr guarded(const std::string& field, Expr test, bool negative) {
    if (!negative) return test;
    return join({{field + " != null", Expr::Atom}, test}, Expr::And);
  }

  std::optional<Expr> item(const Item& item, bool negative) {
    static const std::set<std::string> known = {
        "contains", "startswith", "endswith", "all",     "re",           "i",
        "m",        "s",          "cidr",     "base64",  "base64offset", "utf16le",
        "utf16be",  "utf16",      "wide",     "windash", "exists",       "cased",
        "neq",      "lt",         "lte",      "gt",      "gte",          "fieldref"};
    bool all = false, cased = false, neq = false;
    std::string type;  // re, cidr, exists, fieldref, lt, lte, gt, gte
    std::set<std::string> re_flags;
    std::vector<std::string> transforms;
    for (const std::string& raw : item.modifiers) {
      const std::string modifier = to_lower(raw);
      if (!known.count(modifier)) {
        if (modifier == "expand")
          error(item, "the `expand` modifier needs placeholder values, which pickaxe does not have",
                "replace the %placeholder% with the values it stands for");
        else if (modifier == "minute" || modifier == "hour" || modifier == "day" ||
                 modifier == "week" || modifier == "month" || modifier == "year")
          error(item, fmt::format("the time modifier `{}` is not supported", modifier));
        else
          error(item, fmt::format("unknown modifier `{}`", raw),
                "see the Sigma modifiers appendix for the valid ones");
        return std::nullopt;
      }
      if (modifier == "all")
        all = true;
      else if (modifier == "cased")
        cased = true;
      else if (modifier == "neq")
        neq = true;
      else if (modifier == "i" || modifier == "m" || modifier == "s") {
        if (type != "re") {
          error(item, fmt::format("`{}` only follows `re`", modifier));
          return std::nullopt;
        }
        re_flags.insert(modifier);
      } else if (modifier == "re" || modifier == "cidr" || modifier == "exists" ||
                 modifier == "fieldref" || modifier == "lt" || modifier == "lte" ||
                 modifier == "gt" || modifier == "gte") {
        if (!type.empty()) {
          error(item, fmt::format("`{}` and `{}` cannot be combined", type, modifier));
          return std::nullopt;
        }
        type = modifier;
      } else {
        transforms.push_back(modifier);
      }
    }
    if (all && item.values.size() < 2 && !item.field.empty()) {
      error(item, "`all` needs a list of at least two values",
            "Sigma forbids `all` on one value; use another search to test a field twice");
      return std::nullopt;
    }
    const bool keyword = item.field.empty();
    FieldMapping mapped = keyword ? FieldMapping{logsource_.keywords_field, {}}
                                  : mapping_.field(logsource_, item.field);
    const std::string field = eql::print_field_name(mapped.field);
    // Under `neq` the test is negated once more.
    const bool guard = negative != neq;
    std::optional<Expr> test;
    if (type == "exists")
      test = exists(item, field);
    else if (type == "fieldref")
      test = fieldref(item, field, all);
    else if (type == "cidr")
      test = cidr(item, field, all, guard);
    else if (!type.empty() && type != "re")
      test = compare(item, field, type, all, guard);
    else
      test = strings(item, mapped, field, type == "re", re_flags, transforms, all, cased, keyword,
                     guard);
    if (!test) return std::nullopt;
    return neq ? negate(*test) : *test;
  }

  std::optional<Expr> exists(const Item& item, const std::string& field) {
    if (item.values.size() != 1 || item.values[0].kind != Value::Kind::Bool) {
      error(item, "`exists` takes true or false");
      return std::nullopt;
    }
    bool wanted = to_lower(item.values[0].text) == "true";
    return Expr{field + (wanted ? " != null" : " == null"), Expr::Atom};
  }

  std::optional<Expr> fieldref(const Item& item, const std::string& field, bool all) {
    std::vector<Expr> parts;
    for (const Value& value : item.values) {
      if (value.kind != Value::Kind::String) {
        error(item, "`fieldref` takes field names");
        return std::nullopt;
      }
      parts.push_back(
          {field + " == " + eql::print_field_name(mapping_.field(logsource_, value.text).field),
           Expr::Atom});
    }
    return join(parts, all ? Expr::And : Expr::Or);
  }

  std::optional<Expr> cidr(const Item& item, const std::string& field, bool all, bool negative) {
    std::vector<std::string> ranges;
    for (const Value& value : item.values) {
      if (value.kind != Value::Kind::String) {
        error(item, "`cidr` takes network ranges such as 10.0.0.0/8");
        return std::nullopt;
      }
      ranges.push_back(eql::quote_string(value.text));
    }
    if (!all) {
      std::string call = "cidrmatch(" + field;
      for (const std::string& range : ranges) call += ", " + range;
      return guarded(field, {call + ")", Expr::Atom}, negative);
    }
    std::vector<Expr> parts;
    for (const std::string& range : ranges)
      parts.push_back({"cidrmatch(" + field + ", " + range + ")", Expr::Atom});
    return guarded(field, join(parts, Expr::And), negative);
  }

  std::optional<Expr> compare(const Item& item, const std::string& field, const std::string& type,
                              bool all, bool negative) {
    const std::string op = type == "lt" ? "<" : type == "lte" ? "<=" : type == "gt" ? ">" : ">=";
    std::vector<Expr> parts;
    for (const Value& value : item.values) {
      if (value.kind != Value::Kind::Number) {
        error(item, fmt::format("`{}` takes a number", type));
        return std::nullopt;
      }
      parts.push_back({field + " " + op + " " + value.text, Expr::Atom});
    }
    return guarded(field, join(parts, all ? Expr::And : Expr::Or), negative);
  }

  std::optional<Expr> strings(const Item& item, const FieldMapping& mapped,
                              const std::string& field, bool re,
                              const std::set<std::string>& re_flags,
                              const std::vector<std::string>& transforms, bool all, bool cased,
                              bool keyword, bool negative) {
    // Tests of one kind are gathered into one list where EQL allows it.
    std::vector<std::string> equal, wildcard, regexps, typed;
    // Fields ECS types as numbers, addresses or booleans compare by value.
    const std::optional<FieldType> type = FieldTypes::ecs().find(mapped.field);
    const bool by_value = type && !is_string_like(*type) && !keyword;
    std::vector<Expr> parts;  // with `all`: one per value
    bool has_null = false;
    const bool insensitive = re ? re_flags.count("i") > 0 : !cased;
    auto flush = [&] {
      std::vector<Expr> tests;
      if (!typed.empty())
        tests.push_back({field + (typed.size() > 1 ? " in " : " == ") + list(typed), Expr::Atom});
      if (!equal.empty())  // case-sensitive only
        tests.push_back({field + (equal.size() > 1 ? " in " : " == ") + list(equal), Expr::Atom});
      if (!wildcard.empty())
        tests.push_back({field + (insensitive ? " : " : " like ") + list(wildcard), Expr::Atom});
      for (const std::string& regexp : regexps)
        tests.push_back({field + (insensitive ? " regex~ " : " regex ") + regexp, Expr::Atom});
      equal.clear();
      typed.clear();
      wildcard.clear();
      regexps.clear();
      if (!tests.empty()) parts.push_back(join(tests, Expr::Or));
    };
    for (const Value& value : item.values) {
      if (value.kind == Value::Kind::Null) {
        if (!transforms.empty() || re) {
          error(item, "null cannot be modified");
          return std::nullopt;
        }
        has_null = true;
        parts.push_back({field + " == null", Expr::Atom});
        continue;
      }
      if (re) {
        if (value.kind != Value::Kind::String && value.kind != Value::Kind::Number) {
          error(item, "`re` takes a regular expression");
          return std::nullopt;
        }
        std::string reason;
        auto lucene =
            pcre_to_lucene(value.text, re_flags.count("s") > 0, re_flags.count("m") > 0, reason);
        if (!lucene) {
          diagnostics_.error("sigma-regex", value.span,
                             fmt::format("this regular expression cannot run: {}", reason),
                             "Sigma allows . ^ $ * + ? {n,m} [] [^] | () and \\ escapes");
          return std::nullopt;
        }
        regexps.push_back(eql::quote_string(*lucene));
        if (all) flush();
        continue;
      }
      if ((value.kind == Value::Kind::Number || value.kind == Value::Kind::Bool) &&
          transforms.empty() && !keyword) {
        // Numbers and booleans compare as they are typed, as Sigma backends do.
        typed.push_back(to_lower(value.text));
        if (all) flush();
        continue;
      }
      std::vector<std::string> variants;
      if (auto it = mapped.values.find(to_lower(value.text));
          it != mapped.values.end() && transforms.empty())
        variants = it->second;
      std::vector<Pattern> patterns;
      if (!variants.empty()) {
        for (const std::string& variant : variants)
          patterns.push_back({{Piece::Kind::Text, variant}});
      } else {
        patterns.push_back(value.kind == Value::Kind::String
                               ? parse_value(value.text)
                               : Pattern{{Piece::Kind::Text, value.text}});
        if (keyword && transforms.empty()) patterns = apply(patterns, "contains", item);
        bool binary = false;  // UTF-16 bytes not yet base64-encoded
        for (const std::string& transform : transforms) {
          patterns = apply(patterns, transform, item);
          if (patterns.empty()) return std::nullopt;
          if (transform.starts_with("utf16") || transform == "wide") binary = true;
          if (transform.starts_with("base64")) binary = false;
        }
        if (binary) {
          error(item, "the value is not text after its modifiers",
                "follow utf16le/utf16be/utf16/wide with base64 or base64offset");
          return std::nullopt;
        }
      }
      for (const Pattern& pattern : patterns) {
        // `==` and `in` take * and ? as they are; `:` and `like` only as wildcards,
        // so a value with a literal * or ? is a regexp.
        std::string text;
        if (plain(pattern) && (by_value || !insensitive))
          (by_value ? typed : equal).push_back(eql::quote_string(plain_text(pattern)));
        else if (eql_wildcard(pattern, text))
          wildcard.push_back(eql::quote_string(text));
        else
          regexps.push_back(eql::quote_string(lucene_of(pattern)));
      }
      if (all) flush();
    }
    flush();
    if (parts.empty()) return std::nullopt;
    Expr test = join(parts, all ? Expr::And : Expr::Or);
    return has_null ? test : guarded(field, test, negative);
  }

  std::vector<Pattern> apply(const std::vector<Pattern>& patterns, const std::string& transform,
                             const Item& item) {
    std::vector<Pattern> out;
    for (Pattern pattern : patterns) {
      if (transform == "contains" || transform == "startswith" || transform == "endswith") {
        bool star_front = !pattern.empty() && pattern.front().kind == Piece::Kind::Star;
        bool star_back = !pattern.empty() && pattern.back().kind == Piece::Kind::Star;
        if (transform != "startswith" && !star_front)
          pattern.insert(pattern.begin(), {Piece::Kind::Star, ""});
        if (transform != "endswith" && !star_back) pattern.push_back({Piece::Kind::Star, ""});
        out.push_back(std::move(pattern));
      } else if (transform == "windash") {
        std::string problem;
        auto variants = windash(pattern, problem);
        if (!problem.empty()) {
          error(item, problem);
          return {};
        }
        out.insert(out.end(), variants.begin(), variants.end());
      } else {
        if (!plain(pattern)) {
          error(item,
                fmt::format("`{}` encodes the value as it is: it cannot hold wildcards", transform),
                "escape a literal * or ? as \\* or \\?, or put contains after the encoding");
          return {};
        }
        std::string bytes = plain_text(pattern);
        if (transform == "base64") {
          out.push_back({{Piece::Kind::Text, base64(bytes)}});
        } else if (transform == "base64offset") {
          for (std::string& form : base64_offsets(bytes))
            out.push_back({{Piece::Kind::Text, std::move(form)}});
        } else {  // utf16le, utf16be, utf16, wide
          std::string encoded = transform == "utf16" ? std::string("\xFF\xFE") : std::string();
          if (!utf16(bytes, transform == "utf16be", encoded)) {
            error(item, fmt::format("`{}` needs UTF-8 text", transform));
            return {};
          }
          out.push_back({{Piece::Kind::Text, std::move(encoded)}});
        }
      }
    }
    return out;
  }

  const Rule& rule_;
  const Mapping& mapping_;
  const LogsourceMapping& logsource_;
  Diagnostics& diagnostics_;
};

}  // namespace

std::vector<Piece> parse_value(std::string_view value) {
  Pattern pattern;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size() &&
        (value[i + 1] == '*' || value[i + 1] == '?' || value[i + 1] == '\\')) {
      add_text(pattern, value.substr(i + 1, 1));  // an escaped wildcard or backslash
      ++i;
    } else if (c == '*') {
      pattern.push_back({Piece::Kind::Star, ""});
    } else if (c == '?') {
      pattern.push_back({Piece::Kind::Question, ""});
    } else {
      add_text(pattern, value.substr(i, 1));  // a lone backslash is itself
    }
  }
  return pattern;
}

namespace {

constexpr char kStart = '\x01', kEnd = '\x02';  // ^ and $ until they are placed

// The atoms of a Lucene regexp at one nesting level: spans of an escaped
// character, a class, a group (with what follows it if that is a
// quantifier) or one character; `|` at this level is an atom of its own.
std::vector<std::pair<size_t, size_t>> atoms(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t i = 0; i < text.size();) {
    size_t j = i + 1;
    if (text[i] == '\\') {
      j = std::min(text.size(), i + 2);
    } else if (text[i] == '[') {
      while (j < text.size() && text[j] != ']') j += text[j] == '\\' ? 2 : 1;
      j = std::min(text.size(), j + 1);
    } else if (text[i] == '(') {
      int depth = 1;
      bool in_class = false;
      while (j < text.size() && depth > 0) {
        char c = text[j];
        if (c == '\\')
          ++j;
        else if (in_class)
          in_class = c != ']';
        else if (c == '[')
          in_class = true;
        else if (c == '(')
          ++depth;
        else if (c == ')')
          --depth;
        ++j;
      }
      j = std::min(text.size(), j);
    }
    out.emplace_back(i, j);
    i = j;
  }
  return out;
}

std::vector<std::string> alternatives(std::string_view text) {
  std::vector<std::string> out(1);
  for (auto [begin, end] : atoms(text)) {
    if (end - begin == 1 && text[begin] == '|')
      out.emplace_back();
    else
      out.back() += text.substr(begin, end - begin);
  }
  return out;
}

bool quantifier(char c) {
  return c == '*' || c == '+' || c == '?' || c == '{';
}

// Puts the search's leading `.*` where no ^ says the match starts at the
// beginning: before each alternative, and into a leading group.
std::string lead(const std::string& alt) {
  if (!alt.empty() && alt[0] == kStart) return alt.substr(1);
  auto parts = atoms(alt);
  if (!parts.empty() && alt[0] == '(' && parts[0].second <= alt.size() &&
      alt[parts[0].second - 1] == ')' &&
      (parts[0].second == alt.size() || !quantifier(alt[parts[0].second]))) {
    std::string inner = alt.substr(1, parts[0].second - 2), out = "(";
    std::vector<std::string> alts = alternatives(inner);
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? "|" : "") + lead(alts[i]);
    return out + ")" + alt.substr(parts[0].second);
  }
  return ".*" + alt;
}

std::string trail(const std::string& alt) {
  if (!alt.empty() && alt.back() == kEnd) return alt.substr(0, alt.size() - 1);
  auto parts = atoms(alt);
  if (!parts.empty()) {
    auto [begin, end] = parts.back();
    if (alt[begin] == '(' && end == alt.size() && alt[end - 1] == ')') {
      std::string inner = alt.substr(begin + 1, end - begin - 2), out = "(";
      std::vector<std::string> alts = alternatives(inner);
      for (size_t i = 0; i < alts.size(); ++i) out += (i ? "|" : "") + trail(alts[i]);
      return alt.substr(0, begin) + out + ")";
    }
  }
  return alt + ".*";
}

}  // namespace

std::optional<std::string> pcre_to_lucene(std::string_view pcre, bool dot_all, bool multi_line,
                                          std::string& reason) {
  const std::string space = " \t\n\r\f\v";
  std::string body;
  bool in_class = false;
  for (size_t i = 0; i < pcre.size(); ++i) {
    char c = pcre[i];
    if (c == kStart || c == kEnd) {
      reason = "it holds control characters";
      return std::nullopt;
    }
    if (c == '\\') {
      if (i + 1 >= pcre.size()) {
        reason = "it ends with a lone backslash";
        return std::nullopt;
      }
      char e = pcre[++i];
      std::string set;
      bool negated = false;
      switch (e) {
        case 'd': set = "0-9"; break;
        case 'D': set = "0-9", negated = true; break;
        case 'w': set = "a-zA-Z0-9_"; break;
        case 'W': set = "a-zA-Z0-9_", negated = true; break;
        case 's': set = space; break;
        case 'S': set = space, negated = true; break;
        case 't': body += '\t'; continue;
        case 'n': body += '\n'; continue;
        case 'r': body += '\r'; continue;
        case 'f': body += '\f'; continue;
        case 'v': body += '\v'; continue;
        default:
          if (std::isalnum(static_cast<unsigned char>(e))) {
            reason =
                fmt::format("\\{} (a back-reference, boundary or anchor) has no Lucene form", e);
            return std::nullopt;
          }
          body += '\\';
          body += e;
          continue;
      }
      if (in_class) {
        if (negated) {
          reason = fmt::format("\\{} inside [...] has no Lucene form", e);
          return std::nullopt;
        }
        body += set;
      } else {
        body += (negated ? "[^" : "[") + set + "]";
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      if (c == '[' || c == '"' || c == '@' || c == '&' || c == '~' || c == '<' || c == '>' ||
          c == '#')
        body += '\\';
      body += c;
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        body += c;
        if (i + 1 < pcre.size() && pcre[i + 1] == '^') body += pcre[++i];
        if (i + 1 < pcre.size() && pcre[i + 1] == ']') body += "\\]", ++i;
        break;
      case '(':
        if (i + 1 < pcre.size() && pcre[i + 1] == '?') {
          if (i + 2 < pcre.size() && pcre[i + 2] == ':') {
            body += '(';
            i += 2;
            break;
          }
          reason = "(?...) groups other than (?:...) have no Lucene form";
          return std::nullopt;
        }
        body += c;
        break;
      case '.': body += dot_all ? "." : "[^\n]"; break;
      case '^':
      case '$':
        if (multi_line) {
          reason = "`m` makes ^ and $ match at line ends, which Lucene cannot";
          return std::nullopt;
        }
        body += c == '^' ? kStart : kEnd;
        break;
      case '"':
      case '@':
      case '&':
      case '~':
      case '<':
      case '>':
      case '#':
        body += '\\';
        body += c;
        break;
      default: body += c;
    }
  }
  if (in_class) {
    reason = "a [ is not closed";
    return std::nullopt;
  }
  int depth = 0, deepest = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\')
      ++i;
    else if (body[i] == '(')
      deepest = std::max(deepest, ++depth);
    else if (body[i] == ')')
      --depth;
  }
  if (deepest > 32) {
    reason = "groups nest deeper than 32 levels";
    return std::nullopt;
  }
  // Lucene regexps match the whole value: a search is wrapped in `.*`,
  // except where ^ or $ pin it to an end.
  std::string out;
  std::vector<std::string> alts = alternatives(body);
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? "|" : "") + trail(lead(alts[i]));
  if (out.find_first_of(std::string{kStart, kEnd}) != std::string::npos) {
    reason = "^ and $ are supported only where they pin the match to the start or the end";
    return std::nullopt;
  }
  return out;
}

Rendered to_eql(const Rule& rule, const Mapping& mapping, Diagnostics& diagnostics) {
  Rendered rendered;
  rendered.logsource = mapping.find(rule.logsource);
  if (!rendered.logsource) {
    std::vector<std::string> parts;
    for (auto [key, value] : {std::pair{"product", rule.logsource.product},
                              {"category", rule.logsource.category},
                              {"service", rule.logsource.service}})
      if (!value.empty()) parts.push_back(fmt::format("{}: {}", key, value));
    std::string joined;
    for (const std::string& part : parts) joined += (joined.empty() ? "" : ", ") + part;
    rendered.skipped = fmt::format("no mapping for logsource {{{}}}",
                                   joined.empty() ? std::string("(empty)") : joined);
    return rendered;
  }
  const LogsourceMapping& logsource = *rendered.logsource;
  Renderer renderer(rule, mapping, logsource, diagnostics);
  std::vector<Expr> conditions;
  bool ok = true;
  for (const auto& [text, span] : rule.conditions) {
    std::string problem;
    auto parsed = ConditionParser(text, problem).parse();
    if (!parsed) {
      diagnostics.error("sigma-condition", span, fmt::format("bad condition: {}", problem),
                        "conditions join search names with and, or, not, parentheses, "
                        "`1 of x*` and `all of x*`");
      ok = false;
      continue;
    }
    if (auto expr = renderer.condition(*parsed, false, span))
      conditions.push_back(*expr);
    else
      ok = false;
  }
  if (!ok || conditions.empty()) return rendered;
  Expr detection = join(conditions, Expr::Or);
  std::string where;
  if (!logsource.conditions.empty())
    where = "(" + logsource.conditions + ") and " + wrap(detection, Expr::And);
  else
    where = detection.text;
  rendered.eql =
      fmt::format("{} where {}", logsource.category.empty() ? "any" : logsource.category, where);
  return rendered;
}

}  // namespace pickaxe::sigma
