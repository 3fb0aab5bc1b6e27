#include "scan/sarif.h"

#include <cctype>
#include <map>

#include <fmt/format.h>

#include "scan/content.h"
#include "util/json_writer.h"

namespace pickaxe::scan {

namespace {

const char* level_of(const std::string& severity) {
  if (severity == "critical" || severity == "high") return "error";
  if (severity == "medium") return "warning";
  return "note";
}

// The same finding in the next run (same rule, image, platform, path and
// match) has the same fingerprint, whatever the time: CI systems track it.
std::string fingerprint(const Finding& finding) {
  Sha256 hash;
  for (const std::string* part :
       {&finding.rule_id, &finding.image, &finding.platform, &finding.path, &finding.match}) {
    hash.update(part->data(), part->size());
    hash.update("\x1f", 1);
  }
  return hex(hash.finish()).substr(0, 32);
}

}  // namespace

std::string uri_path(std::string_view path) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string sarif_log(const std::vector<Finding>& findings,
                      const std::vector<std::string>& problems, const std::string& version) {
  // Rules in the order they first fire.
  std::map<std::string, size_t> rule_index;
  std::vector<const Finding*> rules;
  for (const Finding& finding : findings)
    if (rule_index.emplace(finding.rule_id, rules.size()).second) rules.push_back(&finding);

  JsonWriter json;
  json.begin_object();
  json.key("$schema").value("https://json.schemastore.org/sarif-2.1.0.json");
  json.key("version").value("2.1.0");
  json.key("runs").begin_array().begin_object();
  json.key("tool").begin_object().key("driver").begin_object();
  json.key("name").value("pickaxe").key("version").value(version);
  json.key("informationUri").value("https://attack.mitre.org/techniques/T1204/003/");
  json.key("rules").begin_array();
  for (const Finding* rule : rules) {
    json.begin_object().key("id").value(rule->rule_id).key("name").value(rule->rule_name);
    json.key("shortDescription").begin_object().key("text").value(rule->rule_name).end_object();
    json.key("fullDescription").begin_object().key("text").value(rule->rule_description);
    json.end_object();
    json.key("defaultConfiguration").begin_object().key("level").value(level_of(rule->severity));
    json.end_object();
    // GitHub code scanning ranks findings by this 0-10 score.
    json.key("properties").begin_object();
    json.key("security-severity").value(fmt::format("{:.1f}", rule->risk_score / 10.0));
    json.key("tags").begin_array().value("security").value("T1204.003").end_array();
    json.end_object().end_object();
  }
  json.end_array().end_object().end_object();
  json.key("results").begin_array();
  for (const Finding& finding : findings) {
    json.begin_object();
    json.key("ruleId").value(finding.rule_id);
    json.key("ruleIndex").value(static_cast<int64_t>(rule_index[finding.rule_id]));
    json.key("level").value(level_of(finding.severity));
    json.key("message").begin_object().key("text");
    json.value(finding.match.empty() ? finding.message
                                     : finding.message + " Match: " + finding.match);
    json.end_object();
    json.key("locations").begin_array().begin_object();
    json.key("physicalLocation").begin_object().key("artifactLocation").begin_object();
    json.key("uri").value(uri_path(finding.path.empty()
                                       ? finding.input
                                       : finding.path.substr(finding.path.front() == '/' ? 1 : 0)));
    if (!finding.path.empty()) json.key("uriBaseId").value("IMAGE_ROOT");
    json.end_object().end_object();
    json.key("logicalLocations").begin_array().begin_object();
    json.key("name").value(finding.image).key("kind").value("module");
    json.key("fullyQualifiedName").value(finding.image + " (" + finding.platform + ")");
    json.end_object().end_array();
    json.end_object().end_array();
    json.key("partialFingerprints").begin_object();
    json.key("pickaxeFinding/v1").value(fingerprint(finding)).end_object();
    json.key("properties").begin_object().key("image").value(finding.image);
    json.key("platform").value(finding.platform).key("input").value(finding.input);
    json.key("severity").value(finding.severity);
    json.key("alertUuid").value(finding.alert_uuid).end_object();
    json.end_object();
  }
  json.end_array();
  // Whether every image was read whole, and why not.
  json.key("invocations").begin_array().begin_object();
  json.key("executionSuccessful").value(problems.empty());
  json.key("toolExecutionNotifications").begin_array();
  for (const std::string& problem : problems) {
    json.begin_object().key("level").value("error");
    json.key("message").begin_object().key("text").value(problem).end_object().end_object();
  }
  json.end_array().end_object().end_array();
  json.end_object().end_array().end_object();
  return json.str() + "\n";
}

}  // namespace pickaxe::scan
