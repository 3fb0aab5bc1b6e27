// Scan findings as a SARIF 2.1.0 log, the format CI systems display.
#pragma once

#include <string>
#include <vector>

namespace pickaxe::scan {

struct Finding {
  std::string rule_id, rule_name, rule_description, severity;
  int risk_score = 0;
  std::string input;  // the IMAGE argument
  std::string image;  // its reference
  std::string platform;
  std::string path;     // the file inside the image; empty for config and history
  std::string message;  // the alert's reason
  std::string alert_uuid;
};

std::string sarif_log(const std::vector<Finding>& findings, const std::string& version);

}  // namespace pickaxe::scan
