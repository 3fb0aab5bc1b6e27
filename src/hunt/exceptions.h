// Tuning like Elastic's: exception items (each a list of entries that must
// all hold) attached to rules or to all rules, value lists they can refer to,
// and per-rule alert suppression within a time window.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "diag/diagnostic.h"
#include "event/event.h"
#include "match/expression.h"

namespace pickaxe {

struct ExceptionEntry {
  std::string field;
  bool excluded = false;            // operator: excluded ("is not")
  std::string type;                 // match, match_any, wildcard, exists, cidr, list
  std::vector<std::string> values;  // one for match/wildcard/cidr, several for match_any
  std::string list;                 // type list: the value list's name
};

struct ExceptionItem {
  std::string name;
  std::vector<std::string> rule_ids;  // empty: every rule
  bool enabled = true;
  std::vector<ExceptionEntry> entries;
};

struct ExceptionSet {
  std::vector<ExceptionItem> items;
  std::map<std::string, std::vector<std::string>> value_lists;  // name -> values
};

// Reads exception items from YAML or JSON:
//   value_lists: {approved-amis: amis.txt}       (files of one value per line)
//   exceptions: [{name, rule_ids, enabled, entries: [{field, operator, type, value | list}]}]
// Problems are reported with file:line:col; bad items are skipped.
ExceptionSet load_exceptions(const std::string& path, Diagnostics& diagnostics);

// An exception item compiled against the shared field index.
class CompiledExceptions {
 public:
  CompiledExceptions(const ExceptionSet& set, const Schema& schema, FieldIndex& fields);
  // The name of the first enabled item for this rule that every entry of matches, or null.
  const std::string* match(const std::string& rule_id, const Event& event) const;
  size_t size() const { return items_.size(); }
  // The slots the items read.
  std::vector<uint32_t> slots() const;

 private:
  struct Item {
    const ExceptionItem* source;
    NodePtr condition;
  };
  std::vector<Item> items_;
};

}  // namespace pickaxe
