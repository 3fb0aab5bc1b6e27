// Docker daemon events (`docker events --format '{{json .}}'` and the Engine
// API's /events objects) to ECS, as Elastic's docker.event data stream.
#pragma once

#include <string>

#include <simdjson.h>

namespace pickaxe::source {

bool decode_docker(simdjson::dom::element event, std::string& out, std::string& error);

}  // namespace pickaxe::source
