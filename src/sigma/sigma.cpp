#include "sigma/sigma.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "util/strings.h"

namespace pickaxe::sigma {

namespace {

// `offset`: where the YAML document the mark counts in starts in the file.
Span span_of(const YAML::Mark& mark, const SourceFile& source, size_t offset = 0) {
  if (mark.pos < 0) return {0, 0};
  uint32_t begin = static_cast<uint32_t>(std::min<size_t>(offset + mark.pos, source.text().size()));
  return {begin, static_cast<uint32_t>(std::min<size_t>(begin + 1, source.text().size()))};
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == separator)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

bool is_number(const std::string& text) {
  static const std::regex number(R"([-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
  return std::regex_match(text, number);
}

class Reader {
 public:
  Reader(const SourceFile& source, Diagnostics& diagnostics)
      : source_(source), diagnostics_(diagnostics) {}

  Span span(const YAML::Node& node) const { return span_of(node.Mark(), source_, offset_); }
  void set_offset(size_t offset) { offset_ = offset; }

  void error(const YAML::Node& node, std::string code, std::string message, std::string hint = {}) {
    diagnostics_.error(std::move(code), span(node), std::move(message), std::move(hint));
  }

  std::string text(const YAML::Node& node, const char* what) {
    if (!node || node.IsNull()) return {};
    if (!node.IsScalar()) {
      error(node, "sigma-type", fmt::format("`{}` must be a string", what));
      return {};
    }
    return node.Scalar();
  }

  std::vector<std::string> texts(const YAML::Node& node, const char* what) {
    std::vector<std::string> out;
    if (!node || node.IsNull()) return out;
    if (node.IsScalar()) return {node.Scalar()};
    if (!node.IsSequence()) {
      error(node, "sigma-type", fmt::format("`{}` must be a list of strings", what));
      return out;
    }
    for (const YAML::Node& item : node) {
      if (item.IsScalar())
        out.push_back(item.Scalar());
      else
        error(item, "sigma-type", fmt::format("`{}` must be a list of strings", what));
    }
    return out;
  }

  Value value(const YAML::Node& node) {
    Value value;
    value.span = span(node);
    if (node.IsNull()) {
      value.kind = Value::Kind::Null;
      return value;
    }
    if (!node.IsScalar()) {
      error(node, "sigma-value", "a value must be a string, a number, a boolean or null",
            "values in a list are OR-ed; nested lists and maps are not values");
      return value;
    }
    value.text = node.Scalar();
    if (node.Tag() == "?") {  // a plain scalar: YAML's own types apply
      const std::string lower = to_lower(value.text);
      if (lower == "true" || lower == "false")
        value.kind = Value::Kind::Bool;
      else if (is_number(value.text))
        value.kind = Value::Kind::Number;
    }
    return value;
  }

  Item item(const std::string& key, const YAML::Node& key_node, const YAML::Node& values) {
    Item item;
    item.span = span(key_node);
    std::vector<std::string> parts = split(key, '|');
    item.field = parts.empty() ? std::string{} : parts[0];
    for (size_t i = 1; i < parts.size(); ++i) item.modifiers.push_back(parts[i]);
    if (values.IsSequence()) {
      for (const YAML::Node& v : values) item.values.push_back(value(v));
      if (item.values.empty())
        error(values, "sigma-value", fmt::format("`{}` has an empty list of values", key));
    } else {
      item.values.push_back(value(values));
    }
    return item;
  }

  std::vector<Item> map(const YAML::Node& node) {
    std::vector<Item> items;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        error(entry.first, "sigma-detection", "a detection key must be a field name");
        continue;
      }
      items.push_back(item(entry.first.Scalar(), entry.first, entry.second));
    }
    return items;
  }

  std::optional<Search> search(const std::string& name, const YAML::Node& node) {
    Search search;
    search.name = name;
    search.span = span(node);
    if (node.IsMap()) {
      search.groups.push_back(map(node));
    } else if (node.IsSequence()) {
      Item keywords;
      keywords.span = search.span;
      for (const YAML::Node& element : node) {
        if (element.IsMap())
          search.groups.push_back(map(element));
        else
          keywords.values.push_back(value(element));
      }
      if (!keywords.values.empty()) {
        if (!search.groups.empty()) {
          error(node, "sigma-detection",
                fmt::format("search `{}` mixes keywords and maps in one list", name),
                "put the keywords in a search of their own");
          return std::nullopt;
        }
        search.groups.push_back({std::move(keywords)});
      }
    } else if (node.IsScalar()) {
      Item keyword;
      keyword.span = search.span;
      keyword.values.push_back(value(node));
      search.groups.push_back({std::move(keyword)});
    } else {
      error(node, "sigma-detection", fmt::format("search `{}` is empty", name));
      return std::nullopt;
    }
    return search;
  }

 private:
  const SourceFile& source_;
  Diagnostics& diagnostics_;
  size_t offset_ = 0;
};

// The documents of a YAML stream: each starts at a `---` line (the first at
// the top). They are loaded one by one: yaml-cpp's own LoadAll loops for
// ever on some malformed streams (a stray `,`).
std::vector<std::pair<size_t, std::string_view>> documents_of(std::string_view text) {
  std::vector<std::pair<size_t, std::string_view>> parts;
  size_t start = 0;
  for (size_t line = 0; line < text.size();) {
    size_t end = text.find('\n', line);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(line, end - line);
    if (line > start && content.starts_with("---") &&
        (content.size() == 3 || content[3] == ' ' || content[3] == '\t' || content[3] == '\r')) {
      parts.emplace_back(start, text.substr(start, line - start));
      start = line;
    }
    line = end + 1;
  }
  parts.emplace_back(start, text.substr(start));
  return parts;
}

}  // namespace

bool looks_like_sigma(std::string_view text) {
  for (std::string_view key : {"detection:", "correlation:"}) {
    for (size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1))
      if (at == 0 || text[at - 1] == '\n') return true;
  }
  return false;
}

namespace {

// "5m", "90s", "1h", "2d" -> nanoseconds; none when `text` is not of that
// form (`formed` false) or is past a century.
std::optional<int64_t> timespan_of(const std::string& text, bool& formed) {
  static const std::regex form(R"(([0-9]+)([smhd]))");
  std::smatch match;
  formed = std::regex_match(text, match, form);
  if (!formed) return std::nullopt;
  int64_t count = 0;
  const std::string digits = match[1].str();
  if (std::from_chars(digits.data(), digits.data() + digits.size(), count).ec != std::errc())
    return std::nullopt;  // past int64: no timespan either
  int64_t unit = match[2] == "s" ? 1 : match[2] == "m" ? 60 : match[2] == "h" ? 3600 : 86400;
  if (count > int64_t{100} * 365 * 86400 / unit) return std::nullopt;  // a century
  return count * unit * 1'000'000'000;
}

void read_correlation(const YAML::Node& node, Reader& reader, Rule& rule,
                      Diagnostics& diagnostics) {
  Correlation correlation;
  correlation.span = reader.span(node);
  if (!node.IsMap()) {
    reader.error(node, "sigma-correlation", "`correlation` must be a map");
    return;
  }
  correlation.type = to_lower(reader.text(node["type"], "type"));
  static const std::set<std::string> types = {"event_count", "value_count", "temporal",
                                              "temporal_ordered"};
  static const std::set<std::string> metrics = {"value_sum", "value_avg", "value_percentile"};
  if (metrics.count(correlation.type)) {
    reader.error(node["type"], "sigma-correlation",
                 fmt::format("`{}` correlations are not supported", correlation.type),
                 "event_count, value_count, temporal and temporal_ordered are");
  } else if (!types.count(correlation.type)) {
    reader.error(node["type"] ? node["type"] : node, "sigma-correlation",
                 fmt::format("unknown correlation type `{}`", correlation.type),
                 "event_count, value_count, temporal or temporal_ordered");
  }
  correlation.rules = reader.texts(node["rules"], "rules");
  if (correlation.rules.empty())
    reader.error(node, "sigma-correlation", "a correlation needs `rules` to correlate");
  correlation.group_by = reader.texts(node["group-by"], "group-by");
  const YAML::Node timespan = node["timespan"];
  const std::string timespan_text = reader.text(timespan, "timespan");
  bool formed = false;
  if (auto nanos = timespan_of(timespan_text, formed); nanos && *nanos > 0)
    correlation.timespan = *nanos;
  else if (formed)
    reader.error(timespan, "sigma-correlation",
                 fmt::format("timespan `{}` is out of range: at least 1s, at most a century "
                             "(36500d)",
                             timespan_text));
  else
    reader.error(timespan ? timespan : node, "sigma-correlation",
                 "a correlation needs a `timespan` such as 30s, 5m, 1h or 2d");
  if (const YAML::Node aliases = node["aliases"]; aliases && aliases.IsMap()) {
    for (const auto& alias : aliases) {
      std::vector<std::pair<std::string, std::string>> fields;
      if (alias.second.IsMap())
        for (const auto& field : alias.second)
          fields.emplace_back(field.first.Scalar(), reader.text(field.second, "alias"));
      else
        reader.error(alias.second, "sigma-correlation", "an alias maps rule names to field names");
      correlation.aliases.emplace_back(alias.first.Scalar(), std::move(fields));
    }
  }
  if (const YAML::Node condition = node["condition"]; condition && condition.IsMap()) {
    for (const auto& entry : condition) {
      const std::string key = to_lower(entry.first.Scalar());
      if (key == "field") {
        correlation.field = reader.text(entry.second, "field");
        continue;
      }
      static const std::set<std::string> ops = {"gt", "gte", "lt", "lte", "eq", "neq"};
      if (!ops.count(key) || !entry.second.IsScalar() || !is_number(entry.second.Scalar())) {
        reader.error(entry.first, "sigma-correlation",
                     fmt::format("`{}` is no condition: gt, gte, lt, lte, eq or neq with a "
                                 "number",
                                 key));
        continue;
      }
      // A number past a double's range (1e999) is refused, not thrown.
      const double number = std::strtod(entry.second.Scalar().c_str(), nullptr);
      if (!std::isfinite(number)) {
        reader.error(entry.second, "sigma-correlation",
                     fmt::format("`{}: {}` is out of range", key, entry.second.Scalar()));
        continue;
      }
      correlation.condition.emplace_back(key, number);
    }
  } else if (condition) {
    reader.error(condition, "sigma-correlation", "`condition` must be a map such as {gte: 10}");
  }
  const bool counting = correlation.type == "event_count" || correlation.type == "value_count";
  const bool condition_written = node["condition"] && node["condition"].IsMap() &&
                                 node["condition"].size() > (correlation.field.empty() ? 0 : 1);
  if (counting && correlation.condition.empty() && !condition_written)
    reader.error(node, "sigma-correlation",
                 fmt::format("{} {} correlation needs a condition such as {{gte: 10}}",
                             correlation.type == "event_count" ? "an" : "a", correlation.type));
  if (correlation.type == "temporal_ordered" && !correlation.condition.empty())
    reader.error(node["condition"], "sigma-correlation",
                 "a temporal_ordered correlation needs all its rules, in order: it takes no "
                 "condition",
                 "use a temporal correlation to ask for some of the rules, in any order");
  if (correlation.type == "value_count" && correlation.field.empty())
    reader.error(node, "sigma-correlation",
                 "a value_count correlation names the `field` whose values it counts");
  if (const YAML::Node generate = node["generate"]; generate)
    correlation.generate = to_lower(reader.text(generate, "generate")) == "true";
  (void)diagnostics;
  rule.correlation = std::move(correlation);
}

std::optional<Rule> read_document(const YAML::Node& document, Reader& reader,
                                  Diagnostics& diagnostics) {
  const size_t errors_before = diagnostics.error_count();
  if (!document.IsMap()) {
    diagnostics.error("sigma-not-a-rule", reader.span(document), "the document is no YAML map",
                      "a Sigma rule is a map with title, logsource and detection");
    return std::nullopt;
  }
  Rule rule;
  rule.title = reader.text(document["title"], "title");
  if (document["title"]) rule.title_span = reader.span(document["title"]);
  rule.id = reader.text(document["id"], "id");
  rule.name = reader.text(document["name"], "name");
  rule.status = reader.text(document["status"], "status");
  rule.description = std::string(trim(reader.text(document["description"], "description")));
  rule.author = reader.text(document["author"], "author");
  rule.date = reader.text(document["date"], "date");
  rule.modified = reader.text(document["modified"], "modified");
  rule.level = to_lower(reader.text(document["level"], "level"));
  rule.tags = reader.texts(document["tags"], "tags");
  rule.references = reader.texts(document["references"], "references");
  rule.false_positives = reader.texts(document["falsepositives"], "falsepositives");
  rule.index = reader.texts(document["index"], "index");
  if (rule.title.empty())
    diagnostics.error("sigma-no-title", reader.span(document), "the rule has no title",
                      "add `title: <what the rule detects>`");
  if (document["action"]) {
    reader.error(document["action"], "sigma-unsupported",
                 "multi-document rule collections (`action:`) are not supported",
                 "write each rule out in full in a document of its own");
    return std::nullopt;
  }
  if (document["correlation"]) {
    read_correlation(document["correlation"], reader, rule, diagnostics);
    if (diagnostics.error_count() > errors_before) return std::nullopt;
    return rule;
  }
  const YAML::Node logsource = document["logsource"];
  if (!logsource || !logsource.IsMap()) {
    diagnostics.error("sigma-no-logsource", reader.span(document), "the rule has no logsource map",
                      "add `logsource:` with product, category and/or service");
  } else {
    rule.logsource.product = to_lower(reader.text(logsource["product"], "product"));
    rule.logsource.category = to_lower(reader.text(logsource["category"], "category"));
    rule.logsource.service = to_lower(reader.text(logsource["service"], "service"));
  }
  const YAML::Node detection = document["detection"];
  if (!detection || !detection.IsMap()) {
    diagnostics.error("sigma-no-detection", reader.span(document), "the rule has no detection map",
                      "add `detection:` with search identifiers and a condition");
    return std::nullopt;
  }
  for (const auto& entry : detection) {
    const std::string name = entry.first.Scalar();
    if (name == "condition") {
      if (entry.second.IsSequence()) {
        for (const YAML::Node& condition : entry.second)
          rule.conditions.emplace_back(reader.text(condition, "condition"), reader.span(condition));
      } else {
        rule.conditions.emplace_back(reader.text(entry.second, "condition"),
                                     reader.span(entry.second));
      }
      continue;
    }
    if (name == "timeframe") {
      reader.error(entry.first, "sigma-unsupported",
                   "`timeframe` belongs to the old aggregations, which are not supported",
                   "express counts over time as a correlation rule");
      continue;
    }
    if (auto search = reader.search(name, entry.second)) {
      search->span = reader.span(entry.first);
      rule.searches.push_back(std::move(*search));
    }
  }
  if (rule.conditions.empty())
    reader.error(detection, "sigma-no-condition", "the detection has no condition",
                 "add `condition: <search identifiers joined with and/or/not>`");
  if (diagnostics.error_count() > errors_before) return std::nullopt;
  return rule;
}

}  // namespace

namespace {

// Where a quoted scalar opens that its line does not close, when the next
// line reads as a YAML key: YAML would take the following lines into the
// string (a runaway quote), and report nothing until a later key is missing.
std::optional<size_t> runaway_quote(std::string_view text) {
  size_t line_start = 0;
  // Inside a block scalar (`key: |`), lines more indented than its key are text.
  std::optional<size_t> block_indent;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    const size_t indent = std::min(line.find_first_not_of(' '), line.size());
    if (block_indent) {
      if (indent == line.size() || indent > *block_indent) {
        line_start = line_end + 1;
        continue;
      }
      block_indent.reset();
    }
    {
      std::string_view trimmed = line.substr(0, line.find_last_not_of(" \t\r") + 1);
      while (!trimmed.empty() && (trimmed.back() == '-' || trimmed.back() == '+' ||
                                  std::isdigit(static_cast<unsigned char>(trimmed.back()))))
        trimmed.remove_suffix(1);
      if (trimmed.ends_with(": |") || trimmed.ends_with(": >") || trimmed.ends_with("- |") ||
          trimmed.ends_with("- >") || trimmed == "|" || trimmed == ">") {
        block_indent = indent;
        line_start = line_end + 1;
        continue;
      }
    }
    char quote = 0;
    size_t opened = 0;
    char previous = ' ';  // the last character outside spaces, before this one
    bool at_token_start = true;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quote) {
        if (quote == '"' && c == '\\') {
          ++i;
        } else if (c == quote) {
          if (quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
            ++i;
          } else {
            quote = 0;
            previous = c;
          }
        }
        continue;
      }
      if (c == '#' && (i == 0 || line[i - 1] == ' ')) break;  // a comment
      at_token_start = i == 0 || previous == ':' || previous == '-' || previous == '[' ||
                       previous == ',' || previous == '{' || previous == '?';
      if ((c == '"' || c == '\'') && at_token_start &&
          (i == 0 || line[i - 1] == ' ' || line[i - 1] == '[' || line[i - 1] == '{')) {
        quote = c;
        opened = line_start + i;
        continue;
      }
      if (c != ' ' && c != '\t' && c != '\r') previous = c;
    }
    size_t next = line_end + 1;
    if (quote && next < text.size()) {
      // The next line that is not blank.
      while (next < text.size()) {
        size_t end = text.find('\n', next);
        if (end == std::string_view::npos) end = text.size();
        std::string_view following = text.substr(next, end - next);
        size_t first = following.find_first_not_of(" \t\r");
        if (first == std::string_view::npos) {
          next = end + 1;
          continue;
        }
        following.remove_prefix(first);
        if (following.starts_with("- ")) following.remove_prefix(2);
        size_t colon = following.find(':');
        bool key = colon != std::string_view::npos && colon > 0 &&
                   (colon + 1 == following.size() || following[colon + 1] == ' ' ||
                    following[colon + 1] == '\r') &&
                   following.substr(0, colon).find_first_of(" \"'") == std::string_view::npos;
        if (key) return opened;
        break;
      }
    }
    line_start = line_end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::vector<Rule> parse_rules(const std::shared_ptr<const SourceFile>& source,
                              Diagnostics& diagnostics) {
  std::vector<Rule> rules;
  std::vector<std::pair<size_t, YAML::Node>> documents;
  // A runaway quote (valid YAML that swallowed lines) is named only when the
  // file does not read as a rule: YAML's own error, or a rule missing parts.
  std::vector<std::optional<uint32_t>> runaway;
  auto report_runaway = [&](uint32_t at) {
    diagnostics.error("yaml-unclosed-quote", {at, at + 1},
                      "this quoted string is not closed on its line: YAML reads on through "
                      "the lines after it, taking them into the string",
                      "close the quote on this line");
  };
  for (auto [offset, text] : documents_of(source->text())) {
    std::optional<uint32_t> quote;
    if (std::optional<size_t> at = runaway_quote(text)) quote = static_cast<uint32_t>(offset + *at);
    try {
      YAML::Node document = YAML::Load(std::string(text));
      if (!document.IsNull()) {
        documents.emplace_back(offset, document);
        runaway.push_back(quote);
      }
    } catch (const YAML::Exception& error) {
      if (quote) {
        report_runaway(*quote);
        return rules;
      }
      diagnostics.error("yaml-syntax", span_of(error.mark, *source, offset),
                        fmt::format("invalid YAML: {}", error.msg),
                        "Sigma rules are YAML; check the indentation and quoting here");
      return rules;
    }
  }
  if (documents.empty()) {
    diagnostics.error("sigma-not-a-rule", {0, 0}, "the file holds no YAML map",
                      "a Sigma rule is a map with title, logsource and detection");
    return rules;
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    const auto& [offset, document] = documents[i];
    Diagnostics found(source);
    Reader reader(*source, found);
    reader.set_offset(offset);
    std::optional<Rule> rule = read_document(document, reader, found);
    if (found.has_errors() && runaway[i]) {
      report_runaway(*runaway[i]);  // the cause of what is missing
      continue;
    }
    diagnostics.append(found);
    if (rule) rules.push_back(std::move(*rule));
  }
  return rules;
}

std::optional<Rule> parse_rule(const std::shared_ptr<const SourceFile>& source,
                               Diagnostics& diagnostics) {
  std::vector<Rule> rules = parse_rules(source, diagnostics);
  if (rules.empty() || diagnostics.has_errors()) return std::nullopt;
  return std::move(rules.front());
}

}  // namespace pickaxe::sigma
