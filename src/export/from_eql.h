// Writes an EQL rule as Sigma YAML: an event query becomes one Sigma rule,
// a sequence a temporal_ordered correlation over one rule per step. Fields
// are written in Sigma's taxonomy where the logsource maps them, as ECS
// names otherwise. What Sigma cannot say is an error that says why.
#pragma once

#include <string>

#include "rules/rule.h"
#include "sigma/mapping.h"

namespace pickaxe::sigma {

// The YAML (one document per rule, several for a sequence or for the seed
// dialect's alternatives); empty, with errors in diagnostics, when some
// part of the rule has no Sigma form.
std::string to_sigma(const pickaxe::Rule& rule, const Mapping& mapping, Diagnostics& diagnostics);

}  // namespace pickaxe::sigma
