// Scan findings as a SARIF 2.1.0 log, the format CI systems display.
#pragma once

#include <string>
#include <string_view>
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
  std::string match;    // what matched: a command line, a path
  std::string alert_uuid;
};

// `problems`: what kept images from being read whole (the run is then not
// successful, and each is a notification).
std::string sarif_log(const std::vector<Finding>& findings,
                      const std::vector<std::string>& problems, const std::string& version);

// A URI reference for a path: every byte but unreserved ones and '/' as %XX.
std::string uri_path(std::string_view path);

}  // namespace pickaxe::scan
