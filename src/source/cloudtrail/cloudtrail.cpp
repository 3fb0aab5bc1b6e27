#include "source/cloudtrail/cloudtrail.h"

#include "event/patterns.h"
#include "source/common.h"

namespace pickaxe::source {

// As Elastic's aws.cloudtrail pipeline: event.*, cloud.*, user.*, source.ip,
// user_agent.original and aws.cloudtrail.*, with request parameters and
// response elements kept as objects under aws.cloudtrail.flattened.
bool decode_cloudtrail(simdjson::dom::element record, std::string& out, std::string& error) {
  std::string_view time = text(record, "eventTime");
  // Records shipped through Logstash may carry only its @timestamp.
  if (time.empty()) time = text(record, "@timestamp");
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

}  // namespace pickaxe::source
