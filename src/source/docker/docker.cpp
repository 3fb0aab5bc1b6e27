#include "source/docker/docker.h"

#include "source/common.h"

namespace pickaxe::source {

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
  json.key("@timestamp").value(format_timestamp(nanos));
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

}  // namespace pickaxe::source
