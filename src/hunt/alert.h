// ECS alert documents in the shape of Elastic Security's
// `.alerts-security.alerts-*` index, built from a rule and a query result.
#pragma once

#include <string>
#include <vector>

#include "correlate/engine.h"
#include "rules/rule.h"

namespace pickaxe {

// What a Sigma correlation's alert says of its window, in the shape of
// Elastic's threshold alerts (kibana.alert.threshold_result).
struct CorrelationSummary {
  std::vector<std::pair<std::string, std::string>> terms;  // group-by field and value
  uint64_t count = 0;            // events (event_count, temporal) or values (value_count)
  std::string value_field;       // value_count: the field whose values were counted
  std::string from;              // the window's first event time
  bool building_blocks = false;  // one building-block alert per event (temporal types)
};

struct AlertContext {
  const Rule* rule = nullptr;
  size_t alternative = 0;                           // which of the rule's queries matched
  std::string detection_time;                       // ISO 8601, the alerts' @timestamp
  const CorrelationSummary* correlation = nullptr;  // a Sigma correlation's alert
};

struct Alert {
  std::string json;  // the document, one line
  std::string uuid;  // kibana.alert.uuid: the same for the same rule and events
  std::string time;  // the original event time
  std::string rule_name;
  const Rule* rule = nullptr;
  size_t alternative = 0;  // which of the rule's queries matched
  std::string severity;
  std::string host;
  std::string summary;  // what matched, for the table
  std::string reason;   // kibana.alert.reason
  bool building_block = false;
};

// One alert for an event result; for a sequence, one alert for the sequence
// plus one building-block alert per event, linked by kibana.alert.group.id.
std::vector<Alert> build_alerts(const AlertContext& context, const QueryResult& result,
                                bool sequence);

}  // namespace pickaxe
