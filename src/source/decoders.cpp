#include "source/decoders.h"

#include <ctime>

#include <fmt/format.h>

#include "match/patterns.h"
#include "util/json_writer.h"

namespace pickaxe {

std::optional<SourceKind> source_kind_from_name(std::string_view name) {
  if (name == "auto") return SourceKind::Auto;
  if (name == "ecs") return SourceKind::Ecs;
  if (name == "cloudtrail") return SourceKind::CloudTrail;
  if (name == "docker") return SourceKind::Docker;
  return std::nullopt;
}

std::string_view source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::Auto: return "auto";
    case SourceKind::Ecs: return "ecs";
    case SourceKind::CloudTrail: return "cloudtrail";
    case SourceKind::Docker: return "docker";
  }
  return "ecs";
}

namespace {

bool has(simdjson::dom::element element, std::string_view key) {
  simdjson::dom::element value;
  return element.is_object() && element[key].get(value) == simdjson::SUCCESS;
}

std::string_view text(simdjson::dom::element element, std::string_view key) {
  std::string_view value;
  if (element.is_object() && element[key].get_string().get(value) == simdjson::SUCCESS)
    return value;
  return {};
}

void maybe(JsonWriter& json, std::string_view key, std::string_view value) {
  if (!value.empty()) json.key(key).value(value);
}

// Ends the `event` object as Elastic's integrations do and names the data
// stream, so that rules' index patterns see the document where Elastic would.
void close_event(JsonWriter& json, std::string_view dataset, std::string_view module) {
  json.key("dataset").value(dataset).key("module").value(module).end_object();
  json.key("data_stream").begin_object().key("type").value("logs").key("dataset").value(dataset);
  json.key("namespace").value("default").end_object();
}

}  // namespace

SourceKind detect_source(simdjson::dom::element record) {
  if (!record.is_object()) return SourceKind::Ecs;
  if (has(record, "eventSource") && has(record, "eventName") && has(record, "eventTime"))
    return SourceKind::CloudTrail;
  if ((has(record, "Type") || has(record, "Action") || has(record, "status")) &&
      (has(record, "timeNano") || has(record, "time")) &&
      (has(record, "Actor") || has(record, "id")) && !has(record, "@timestamp"))
    return SourceKind::Docker;
  return SourceKind::Ecs;
}

// As Elastic's aws.cloudtrail pipeline: event.*, cloud.*, user.*, source.ip,
// user_agent.original and aws.cloudtrail.*, with request parameters and
// response elements kept as objects under aws.cloudtrail.flattened.
bool decode_cloudtrail(simdjson::dom::element record, std::string& out, std::string& error) {
  std::string_view time = text(record, "eventTime");
  std::string_view name = text(record, "eventName");
  if (time.empty() || name.empty()) {
    error = "CloudTrail record without eventTime or eventName";
    return false;
  }
  simdjson::dom::element identity;
  bool has_identity =
      record["userIdentity"].get(identity) == simdjson::SUCCESS && identity.is_object();
  JsonWriter json;
  json.begin_object();
  json.key("@timestamp").value(time);
  json.key("event").begin_object();
  json.key("action").value(name);
  maybe(json, "provider", text(record, "eventSource"));
  maybe(json, "id", text(record, "eventID"));
  json.key("kind").value("event");
  json.key("outcome").value(has(record, "errorCode") ? "failure" : "success");
  json.key("type").begin_array().value("info").end_array();
  close_event(json, "aws.cloudtrail", "aws");
  json.key("cloud").begin_object().key("provider").value("aws");
  maybe(json, "region", text(record, "awsRegion"));
  std::string_view account = text(record, "recipientAccountId");
  if (account.empty() && has_identity) account = text(identity, "accountId");
  if (!account.empty()) json.key("account").begin_object().key("id").value(account).end_object();
  json.end_object();
  if (has_identity) {
    std::string_view user = text(identity, "userName");
    if (user.empty()) {
      // Roles and others: the last part of the ARN, as Elastic's pipeline does.
      std::string_view arn = text(identity, "arn");
      size_t slash = arn.rfind('/');
      if (slash != std::string_view::npos) user = arn.substr(slash + 1);
    }
    json.key("user").begin_object();
    maybe(json, "name", user);
    maybe(json, "id", text(identity, "principalId"));
    json.end_object();
  }
  std::string_view source_ip = text(record, "sourceIPAddress");
  if (!source_ip.empty()) {
    json.key("source").begin_object().key("address").value(source_ip);
    if (parse_ip(source_ip)) json.key("ip").value(source_ip);
    json.end_object();
  }
  if (std::string_view agent = text(record, "userAgent"); !agent.empty())
    json.key("user_agent").begin_object().key("original").value(agent).end_object();
  json.key("aws").begin_object().key("cloudtrail").begin_object();
  maybe(json, "event_version", text(record, "eventVersion"));
  maybe(json, "event_type", text(record, "eventType"));
  maybe(json, "event_category", text(record, "eventCategory"));
  maybe(json, "request_id", text(record, "requestID"));
  maybe(json, "recipient_account_id", text(record, "recipientAccountId"));
  maybe(json, "error_code", text(record, "errorCode"));
  maybe(json, "error_message", text(record, "errorMessage"));
  if (has_identity) {
    json.key("user_identity").begin_object();
    maybe(json, "type", text(identity, "type"));
    maybe(json, "arn", text(identity, "arn"));
    maybe(json, "access_key_id", text(identity, "accessKeyId"));
    json.end_object();
  }
  json.key("flattened").begin_object();
  simdjson::dom::element value;
  if (record["requestParameters"].get(value) == simdjson::SUCCESS && value.is_object())
    json.key("request_parameters").raw(simdjson::minify(value));
  if (record["responseElements"].get(value) == simdjson::SUCCESS && value.is_object())
    json.key("response_elements").raw(simdjson::minify(value));
  if (record["additionalEventData"].get(value) == simdjson::SUCCESS && value.is_object())
    json.key("additional_eventdata").raw(simdjson::minify(value));
  json.end_object();
  json.end_object().end_object();
  json.end_object();
  out = json.str();
  return true;
}

// As Elastic's docker.event data stream (docker.event.*), plus container and
// event categorisation of our own (documented in the README).
bool decode_docker(simdjson::dom::element event, std::string& out, std::string& error) {
  std::string_view type = text(event, "Type");
  if (type.empty()) type = text(event, "type");
  std::string_view action = text(event, "Action");
  if (action.empty()) action = text(event, "status");
  if (action.empty()) {
    error = "Docker event without Action or status";
    return false;
  }
  int64_t nanos = 0, seconds = 0;
  if (event["timeNano"].get_int64().get(nanos) == simdjson::SUCCESS && nanos > 0) {
    seconds = nanos / 1'000'000'000;
  } else if (event["time"].get_int64().get(seconds) == simdjson::SUCCESS && seconds > 0 &&
             seconds < 9'000'000'000) {
    nanos = seconds * 1'000'000'000;
  } else {
    error = "Docker event without time or timeNano";
    return false;
  }
  simdjson::dom::element actor;
  bool has_actor = event["Actor"].get(actor) == simdjson::SUCCESS && actor.is_object();
  std::string_view actor_id = has_actor ? text(actor, "ID") : std::string_view{};
  simdjson::dom::element attributes;
  bool has_attributes = has_actor && actor["Attributes"].get(attributes) == simdjson::SUCCESS &&
                        attributes.is_object();
  std::string_view id = text(event, "id");
  if (id.empty()) id = actor_id;
  std::string_view from = text(event, "from");
  if (type.empty()) type = from.empty() ? "image" : "container";

  JsonWriter json;
  json.begin_object();
  std::time_t whole = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  // Milliseconds as Elastic writes them, nanoseconds only when there are any.
  int64_t fraction = nanos % 1'000'000'000;
  std::string digits = fraction % 1'000'000 == 0 ? fmt::format("{:03}", fraction / 1'000'000)
                                                 : fmt::format("{:09}", fraction);
  json.key("@timestamp")
      .value(fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z", utc.tm_year + 1900,
                         utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, digits));
  json.key("docker").begin_object().key("event").begin_object();
  maybe(json, "status", text(event, "status"));
  maybe(json, "id", id);
  json.key("from").value(from);
  json.key("type").value(type);
  json.key("action").value(action);
  json.key("actor").begin_object();
  maybe(json, "id", actor_id);
  if (has_attributes) json.key("attributes").raw(simdjson::minify(attributes));
  json.end_object();
  json.end_object().end_object();

  // event.category and type: container lifecycle as process events, image
  // events as package events.
  std::string_view verb = action.substr(0, action.find(':'));  // "exec_start: sh" -> exec_start
  std::string_view category = type == "image"       ? "package"
                              : type == "container" ? "process"
                                                    : "configuration";
  std::string_view event_type = "info";
  if (verb == "create") event_type = "creation";
  if (verb == "start" || verb == "exec_start") event_type = "start";
  if (verb == "die" || verb == "stop" || verb == "kill") event_type = "end";
  if (verb == "destroy" || verb == "delete" || verb == "untag") event_type = "deletion";
  if (verb == "pull" || verb == "import" || verb == "load") event_type = "installation";
  json.key("event").begin_object();
  json.key("action").value(verb);
  json.key("category").begin_array().value(category).end_array();
  json.key("type").begin_array().value(event_type).end_array();
  json.key("kind").value("event");
  close_event(json, "docker.event", "docker");
  json.key("container").begin_object();
  if (type == "container") {
    maybe(json, "id", actor_id.empty() ? id : actor_id);
    if (has_attributes) maybe(json, "name", text(attributes, "name"));
    std::string_view image = from;
    if (image.empty() && has_attributes) image = text(attributes, "image");
    if (!image.empty()) json.key("image").begin_object().key("name").value(image).end_object();
  } else if (type == "image") {
    std::string_view image = actor_id.empty() ? id : actor_id;
    if (!image.empty()) json.key("image").begin_object().key("name").value(image).end_object();
  }
  json.end_object();
  json.end_object();
  out = json.str();
  return true;
}

}  // namespace pickaxe
