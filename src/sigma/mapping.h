// How Sigma logsources and field names become ECS: for each logsource, the
// EQL event category and conditions that select its events, and the ECS
// field each Sigma field names. A built-in table covers Linux process,
// network, file and DNS events, AWS CloudTrail, Zeek DNS and auditd; a
// mapping file in the same YAML shape adds logsources or overrides fields.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "diag/diagnostic.h"
#include "sigma/sigma.h"

namespace pickaxe::sigma {

struct FieldMapping {
  std::string field;  // the ECS field
  // Sigma value (lowercase) -> the ECS values it stands for; empty: as written.
  std::map<std::string, std::vector<std::string>> values;
};

struct LogsourceMapping {
  std::string name;
  Logsource logsource;                     // what the entry matches; empty parts match anything
  std::string category;                    // EQL event category: process, network, file, any, ...
  std::string conditions;                  // EQL that selects the logsource's events; may be empty
  std::string keywords_field = "message";  // where keyword searches look
  std::string unmapped_prefix;             // put before fields with no mapping
  std::map<std::string, FieldMapping> fields;
};

class Mapping {
 public:
  // The built-in table.
  Mapping();
  // Adds a mapping file's entries, tried before the ones already held; a
  // field an entry does not map falls back to an entry for the same
  // logsource already held. Problems go to diagnostics.
  bool add_file(const std::shared_ptr<const SourceFile>& source, Diagnostics& diagnostics);
  // The most specific entry for a rule's logsource, or null.
  const LogsourceMapping* find(const Logsource& logsource) const;
  // The ECS field for a Sigma field under an entry (value mappings included).
  FieldMapping field(const LogsourceMapping& entry, const std::string& sigma_field) const;
  const std::vector<LogsourceMapping>& entries() const { return entries_; }
  // The built-in table as YAML, the shape of a mapping file.
  static std::string_view builtin_yaml();

 private:
  bool add_yaml(const std::shared_ptr<const SourceFile>& source, Diagnostics& diagnostics,
                bool in_front);
  std::vector<LogsourceMapping> entries_;
};

}  // namespace pickaxe::sigma
