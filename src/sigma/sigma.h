// Sigma rules (specification 2.x) as read from YAML: metadata, logsource,
// the detection's search identifiers and the condition, each with the span
// of the YAML it came from so that problems point into the file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "diag/diagnostic.h"

namespace pickaxe::sigma {

struct Value {
  enum class Kind : uint8_t { String, Number, Bool, Null };
  Kind kind = Kind::String;
  std::string text;  // as written (a string's escapes are still in it)
  Span span;
};

// `field|mod1|mod2: values`, or a keyword list (empty field).
struct Item {
  std::string field;
  std::vector<std::string> modifiers;
  std::vector<Value> values;  // OR-ed, or AND-ed with `all`
  Span span;                  // the key
};

// A search identifier: OR over groups, AND within a group. A map is one
// group; a list of maps is one group per map; a list of plain values is one
// keyword item.
struct Search {
  std::string name;
  std::vector<std::vector<Item>> groups;
  Span span;
};

struct Logsource {
  std::string product, category, service;
};

// A correlation rule's `correlation:` section, as written.
struct Correlation {
  std::string type;                   // event_count, value_count, temporal, temporal_ordered
  std::vector<std::string> rules;     // ids or names of the rules it correlates
  std::vector<std::string> group_by;  // fields or aliases
  // alias -> rule name -> the field that alias stands for in that rule's events
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> aliases;
  int64_t timespan = 0;                                   // nanoseconds
  std::vector<std::pair<std::string, double>> condition;  // gt, gte, lt, lte, eq, neq
  std::string field;                                      // value_count: the field counted
  bool generate = false;
  Span span;
};

struct Rule {
  std::string title, id, name, status, description, author, date, modified, level;
  std::vector<std::string> tags, references, false_positives;
  std::vector<std::string> index;  // custom attribute: the Elastic index patterns read
  Logsource logsource;
  std::vector<Search> searches;
  std::vector<std::pair<std::string, Span>> conditions;  // OR-ed when several
  std::optional<Correlation> correlation;  // a correlation rule (no logsource, no detection)
  Span title_span;
};

// Whether YAML text looks like a Sigma rule: a top-level `detection:` or
// `correlation:` key (used to tell rules from other YAML in rule folders).
bool looks_like_sigma(std::string_view text);

// Reads the rules of a file, one per YAML document (a correlation and the
// rules it refers to may share a file); a document with problems is left
// out, and the problems (all of them, not only the first) go to diagnostics.
std::vector<Rule> parse_rules(const std::shared_ptr<const SourceFile>& source,
                              Diagnostics& diagnostics);
// The first rule of a file (tests).
std::optional<Rule> parse_rule(const std::shared_ptr<const SourceFile>& source,
                               Diagnostics& diagnostics);

}  // namespace pickaxe::sigma
