// Reads rule files: plain .eql, Elastic detection-rules TOML and the seed page
// text; directories are read recursively. Every problem becomes a diagnostic.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "rules/rule.h"
#include "sigma/mapping.h"

namespace pickaxe {

struct LoadResult {
  std::vector<Rule> rules;
  // Problems that belong to no rule: unreadable paths, TOML syntax, skipped files.
  std::vector<Diagnostics> file_diagnostics;
  size_t files_read = 0;
  // Takes in what `other` loaded, after what this one did.
  void append(LoadResult&& other) {
    std::move(other.rules.begin(), other.rules.end(), std::back_inserter(rules));
    std::move(other.file_diagnostics.begin(), other.file_diagnostics.end(),
              std::back_inserter(file_diagnostics));
    files_read += other.files_read;
  }
};

// Loads every rule under the given files and directories. Sigma rules
// (.yml, .yaml) are rendered as EQL through `sigma_mapping` (null: the
// built-in one); in directories, YAML files count only when they look like
// Sigma rules. Files are read and parsed on `threads` threads; the result
// is the same for any number.
LoadResult load_rules(const std::vector<std::string>& paths,
                      const sigma::Mapping* sigma_mapping = nullptr, size_t threads = 1);

// Loads rules from one file's text; `path` names it in diagnostics.
void load_rule_text(const std::string& path, std::string text, LoadResult& result,
                    const sigma::Mapping* sigma_mapping = nullptr);

// The built-in Sigma mapping, made once.
const sigma::Mapping& builtin_sigma_mapping();

// Parses and verifies a rule's query (the text at rule.source[query_begin, query_end)).
void compile_rule(Rule& rule);

// True when the text looks like a published rule page (the seed format).
bool looks_like_seed_page(std::string_view text);

}  // namespace pickaxe
