#include "hunt/alert.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "ingest/mapped_file.h"
#include "util/json_writer.h"
#include "util/uuid.h"

namespace pickaxe {

namespace {

// The first scalar at a dotted path, through nested objects, dotted keys and arrays.
std::optional<simdjson::dom::element> find(simdjson::dom::element element, std::string_view path) {
  if (element.is_array()) {
    for (simdjson::dom::element item : simdjson::dom::array(element)) {
      if (auto found = find(item, path)) return found;
    }
    return std::nullopt;
  }
  if (!element.is_object()) return std::nullopt;
  for (auto [key, value] : simdjson::dom::object(element)) {
    if (key == path) {
      if (value.is_array()) {
        for (simdjson::dom::element item : simdjson::dom::array(value)) {
          if (!item.is_object() && !item.is_array()) return item;
        }
        return std::nullopt;
      }
      return value;
    }
    if (path.size() > key.size() && path.starts_with(key) && path[key.size()] == '.') {
      if (auto found = find(value, path.substr(key.size() + 1))) return found;
    }
  }
  return std::nullopt;
}

std::string text_at(simdjson::dom::element document, std::string_view path) {
  auto found = find(document, path);
  if (!found) return {};
  std::string_view text;
  if (found->get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  if (found->is_number() || found->is_bool()) return simdjson::minify(*found);
  return {};
}

void write_threat(JsonWriter& json, const std::vector<Threat>& threats) {
  json.begin_array();
  for (const Threat& threat : threats) {
    json.begin_object();
    json.key("framework").value(threat.framework);
    json.key("tactic").begin_object();
    json.key("id").value(threat.tactic_id).key("name").value(threat.tactic_name);
    json.key("reference")
        .value(fmt::format("https://attack.mitre.org/tactics/{}/", threat.tactic_id));
    json.end_object();
    json.key("technique").begin_array();
    for (const ThreatTechnique& technique : threat.techniques) {
      json.begin_object().key("id").value(technique.id).key("name").value(technique.name);
      json.key("reference")
          .value(fmt::format("https://attack.mitre.org/techniques/{}/", technique.id));
      json.key("subtechnique").begin_array();
      for (const ThreatTechnique& sub : technique.subtechniques) {
        std::string path = sub.id;
        std::replace(path.begin(), path.end(), '.', '/');
        json.begin_object().key("id").value(sub.id).key("name").value(sub.name);
        json.key("reference").value(fmt::format("https://attack.mitre.org/techniques/{}/", path));
        json.end_object();
      }
      json.end_array().end_object();
    }
    json.end_array().end_object();
  }
  json.end_array();
}

void write_rule_fields(JsonWriter& json, const Rule& rule) {
  json.key("kibana.alert.rule.name").value(rule.name);
  json.key("kibana.alert.rule.rule_id").value(rule.rule_id);
  json.key("kibana.alert.rule.uuid").value(stable_uuid("rule\n" + rule.rule_id));
  json.key("kibana.alert.rule.severity").value(rule.severity);
  json.key("kibana.alert.rule.risk_score").value(static_cast<int64_t>(rule.risk_score));
  json.key("kibana.alert.rule.type").value(rule.type);
  json.key("kibana.alert.rule.description").value(rule.description);
  json.key("kibana.alert.rule.tags").begin_array();
  for (const std::string& tag : rule.tags) json.value(tag);
  json.end_array();
  if (!rule.author.empty()) {
    json.key("kibana.alert.rule.author").begin_array();
    for (const std::string& author : rule.author) json.value(author);
    json.end_array();
  }
  if (!rule.references.empty()) {
    json.key("kibana.alert.rule.references").begin_array();
    for (const std::string& reference : rule.references) json.value(reference);
    json.end_array();
  }
  if (!rule.note.empty()) json.key("kibana.alert.rule.note").value(rule.note);
  json.key("kibana.alert.rule.threat");
  write_threat(json, rule.threats);
  json.key("kibana.alert.severity").value(rule.severity);
  json.key("kibana.alert.risk_score").value(static_cast<int64_t>(rule.risk_score));
  json.key("kibana.alert.workflow_status").value("open");
  json.key("kibana.alert.status").value("active");
  json.key("kibana.space_ids").begin_array().value("default").end_array();
}

// "process event with process xmrig, parent process containerd-shim, by root
// on node-7 created high alert <rule>." as Elastic words it.
std::string reason(simdjson::dom::element document, const Rule& rule) {
  std::string category = text_at(document, "event.category");
  std::string out = (category.empty() ? std::string("event") : category + " event");
  std::vector<std::string> parts;
  auto add = [&](std::string_view label, std::string value) {
    if (!value.empty()) parts.push_back(fmt::format("{} {}", label, value));
  };
  add("with process", text_at(document, "process.name"));
  add("parent process", text_at(document, "process.parent.name"));
  add("file", text_at(document, "file.name"));
  add("in image", text_at(document, "pickaxe.scan.image.reference"));  // pickaxe scan's events
  std::string destination = text_at(document, "destination.ip");
  if (!destination.empty()) {
    std::string port = text_at(document, "destination.port");
    add("destination", port.empty() ? destination : destination + ":" + port);
  }
  add("query", text_at(document, "dns.question.name"));
  add("action", text_at(document, "event.action").empty() || !parts.empty()
                    ? ""
                    : text_at(document, "event.action"));
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? " " : ", ") + parts[i];
  std::string user = text_at(document, "user.name");
  std::string host = text_at(document, "host.name");
  if (!user.empty()) out += ", by " + user;
  if (!host.empty()) out += " on " + host;
  out += fmt::format(" created {} alert {}.", rule.severity, rule.name);
  return out;
}

std::string summary_of(simdjson::dom::element document) {
  for (const char* path : {"process.command_line", "dns.question.name", "destination.ip",
                           "file.path", "process.name", "event.action", "message"}) {
    std::string value = text_at(document, path);
    if (value.empty()) continue;
    if (std::string_view(path) == "destination.ip") {
      std::string port = text_at(document, "destination.port");
      if (!port.empty()) value += ":" + port;
    }
    return value;
  }
  return {};
}

// One event's alert: its own fields, event.kind signal, and the kibana.alert fields.
Alert event_alert(const AlertContext& context, simdjson::dom::element document,
                  const std::string& uuid, const std::string* group_id, size_t group_index) {
  const Rule& rule = *context.rule;
  JsonWriter json;
  json.begin_object();
  std::string original_time;
  std::vector<std::pair<std::string, std::string>> original_event;
  for (auto [key, value] : simdjson::dom::object(document)) {
    if (key == "@timestamp") {
      original_time = simdjson::minify(value);
      continue;
    }
    if (key.starts_with("kibana.")) continue;
    if (key == "event" && value.is_object()) {
      json.key("event").begin_object();
      for (auto [event_key, event_value] : simdjson::dom::object(value)) {
        original_event.emplace_back(std::string(event_key), simdjson::minify(event_value));
        if (event_key == "kind") continue;
        json.key(event_key).raw(simdjson::minify(event_value));
      }
      json.key("kind").value("signal").end_object();
      continue;
    }
    if (key.starts_with("event.")) {
      original_event.emplace_back(std::string(key.substr(6)), simdjson::minify(value));
      if (key == "event.kind") continue;
    }
    json.key(key).raw(simdjson::minify(value));
  }
  if (!document["event"].is_object()) json.key("event.kind").value("signal");
  json.key("@timestamp").value(context.detection_time);
  if (!original_time.empty()) json.key("kibana.alert.original_time").raw(original_time);
  for (const auto& [key, value] : original_event)
    json.key("kibana.alert.original_event." + key).raw(value);
  write_rule_fields(json, rule);
  std::string reason_text = reason(document, rule);
  json.key("kibana.alert.reason").value(reason_text);
  json.key("kibana.alert.uuid").value(uuid);
  json.key("kibana.alert.depth").value(int64_t{1});
  if (group_id) {
    json.key("kibana.alert.building_block_type").value("default");
    json.key("kibana.alert.group.id").value(*group_id);
    json.key("kibana.alert.group.index").value(static_cast<int64_t>(group_index));
  }
  json.end_object();
  Alert alert;
  alert.json = json.str();
  alert.uuid = uuid;
  alert.time = text_at(document, "@timestamp");
  alert.rule_name = rule.name;
  alert.rule = &rule;
  alert.alternative = context.alternative;
  alert.severity = rule.severity;
  alert.host = text_at(document, "host.name");
  alert.summary = summary_of(document);
  alert.reason = std::move(reason_text);
  alert.building_block = group_id != nullptr;
  return alert;
}

}  // namespace

std::vector<Alert> build_alerts(const AlertContext& context, const QueryResult& result,
                                bool sequence) {
  std::vector<Alert> alerts;
  simdjson::dom::parser parser;
  std::string identity = fmt::format("{}\n{}", context.rule->rule_id, context.alternative);
  // Documents are read once (from the spool, for events held long).
  std::vector<std::string> sources;
  for (const auto& event : result.events) {
    if (event) {
      sources.push_back(event->document());
      if (!event->mapped_source.empty()) let_go_of_pages_around(event->mapped_source);
    }
    identity += '\n';
    identity += event ? sources.back() : std::string_view("null");
  }
  std::string uuid = stable_uuid(identity);
  if (!sequence) {
    simdjson::dom::element document;
    if (parser.parse(sources.at(0)).get(document)) return alerts;
    alerts.push_back(event_alert(context, document, uuid, nullptr, 0));
    return alerts;
  }
  // The sequence alert carries the top-level fields every event shares.
  std::string group_id = stable_uuid("group\n" + identity);
  std::vector<simdjson::dom::parser> parsers(sources.size());
  std::vector<simdjson::dom::element> documents(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    if (parsers[i].parse(sources[i]).get(documents[i])) return alerts;
  }
  JsonWriter json;
  json.begin_object();
  std::string first_time;
  if (!documents.empty()) {
    for (auto [key, value] : simdjson::dom::object(documents[0])) {
      std::string shared = simdjson::minify(value);
      bool everywhere = true;
      for (size_t i = 1; i < documents.size() && everywhere; ++i) {
        simdjson::dom::element other;
        everywhere =
            documents[i][key].get(other) == simdjson::SUCCESS && simdjson::minify(other) == shared;
      }
      if (key == "@timestamp") first_time = shared;
      if (!everywhere || key == "@timestamp" || key == "event" || key.starts_with("kibana."))
        continue;
      json.key(key).raw(shared);
    }
  }
  json.key("event.kind").value("signal");
  json.key("@timestamp").value(context.detection_time);
  if (!first_time.empty()) json.key("kibana.alert.original_time").raw(first_time);
  write_rule_fields(json, *context.rule);
  std::string host = documents.empty() ? "" : text_at(documents[0], "host.name");
  const CorrelationSummary* correlation = context.correlation;
  std::string what = fmt::format("sequence of {} events", documents.size());
  if (correlation) {
    std::string by;
    for (const auto& [field, value] : correlation->terms)
      by += fmt::format("{}{}={}", by.empty() ? " by " : ", ", field, value);
    what = correlation->value_field.empty()
               ? fmt::format("{} correlation of {} events{}", context.rule->correlation->type_name,
                             documents.size(), by)
               : fmt::format("value_count correlation of {} values of {} in {} events{}",
                             correlation->count, correlation->value_field, documents.size(), by);
    json.key("kibana.alert.threshold_result").begin_object();
    json.key("count").value(static_cast<int64_t>(
        correlation->value_field.empty() ? documents.size() : correlation->count));
    json.key("terms").begin_array();
    for (const auto& [field, value] : correlation->terms)
      json.begin_object().key("field").value(field).key("value").value(value).end_object();
    json.end_array();
    if (!correlation->value_field.empty()) {
      json.key("cardinality").begin_array().begin_object();
      json.key("field").value(correlation->value_field);
      json.key("value").value(static_cast<int64_t>(correlation->count));
      json.end_object().end_array();
    }
    json.key("from").value(correlation->from);
    json.end_object();
  }
  std::string reason_text =
      fmt::format("{}{} created {} alert {}.", what, host.empty() ? "" : " on " + host,
                  context.rule->severity, context.rule->name);
  json.key("kibana.alert.reason").value(reason_text);
  json.key("kibana.alert.uuid").value(uuid);
  json.key("kibana.alert.depth").value(int64_t{2});
  if (!correlation || correlation->building_blocks)
    json.key("kibana.alert.group.id").value(group_id);
  json.end_object();
  Alert shell;
  shell.json = json.str();
  shell.uuid = uuid;
  shell.time = documents.empty() ? "" : text_at(documents[0], "@timestamp");
  shell.rule_name = context.rule->name;
  shell.rule = context.rule;
  shell.alternative = context.alternative;
  shell.severity = context.rule->severity;
  shell.host = host;
  shell.summary = what;
  shell.reason = std::move(reason_text);
  alerts.push_back(std::move(shell));
  if (correlation && !correlation->building_blocks) return alerts;
  for (size_t i = 0; i < documents.size(); ++i) {
    alerts.push_back(event_alert(context, documents[i],
                                 stable_uuid(fmt::format("{}\n{}", group_id, i)), &group_id, i));
  }
  return alerts;
}

}  // namespace pickaxe
