// Renders rules for other platforms: Elasticsearch ES|QL, Splunk SPL and
// Microsoft Sentinel KQL. Every rule pickaxe runs is EQL (a Sigma rule is
// rendered as EQL first), so each target is written from the EQL syntax tree,
// with field names mapped through the target's table (kFieldTables). Counting
// Sigma correlations become the target's aggregation; what a target cannot
// say (sequences, samples, ordered correlations) is an error saying why.
#pragma once

#include <string>
#include <vector>

#include "rules/rule.h"

namespace pickaxe::exporter {

enum class Target { Esql, Spl, Kql };

// The query text; empty, with errors in diagnostics, when the rule has no
// form in the target. `rules` resolves a correlation's inputs.
std::string render(const Rule& rule, const std::vector<Rule>& rules, Target target,
                   Diagnostics& diagnostics);

// The field table of a target: ECS name -> the target's name.
const std::vector<std::pair<std::string, std::string>>& field_table(Target target);

}  // namespace pickaxe::exporter
