// Renders a Sigma rule as an Elastic EQL query over ECS: the logsource
// becomes an event category and conditions, fields are mapped, and every
// value modifier becomes EQL (`:` for Sigma's case-insensitive wildcards,
// `like`/`==` for `cased`, `regex` for `re` and for escaped wildcards,
// `cidrmatch` for `cidr`). The text is what pickaxe runs, so a rendered rule
// and the rule that ran are the same.
#pragma once

#include <optional>
#include <string>

#include "sigma/mapping.h"
#include "sigma/sigma.h"

namespace pickaxe::sigma {

struct Rendered {
  std::string eql;  // empty when the rule cannot be rendered
  const LogsourceMapping* logsource = nullptr;
  std::string skipped;  // why the rule was skipped (no mapping), when it was
};

// Problems with the detection go to diagnostics as errors, pointing into
// the rule's YAML; a logsource with no mapping is not an error but a skip.
Rendered to_eql(const Rule& rule, const Mapping& mapping, Diagnostics& diagnostics);

// Pieces of a Sigma string value once its escapes are read: text and the
// wildcards `*` and `?`. Exposed for tests.
struct Piece {
  enum class Kind : uint8_t { Text, Star, Question };
  Kind kind = Kind::Text;
  std::string text;
  bool operator==(const Piece&) const = default;
};
std::vector<Piece> parse_value(std::string_view value);

// Translates the PCRE subset Sigma allows into an anchored Lucene regexp
// that matches where the PCRE would find a match. nullopt with a reason
// for what Lucene cannot express.
std::optional<std::string> pcre_to_lucene(std::string_view pcre, bool dot_all, bool multi_line,
                                          std::string& reason);

}  // namespace pickaxe::sigma
