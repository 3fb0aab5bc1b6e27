// Source decoders: raw records of other formats turned into the ECS documents
// Elastic's integrations would index, so that rules match them unchanged.
// JSON sources so far: AWS CloudTrail records and Docker daemon events.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace pickaxe {

enum class SourceKind { Auto, Ecs, CloudTrail, Docker };

std::optional<SourceKind> source_kind_from_name(
    std::string_view name);  // auto, ecs, cloudtrail, docker
std::string_view source_kind_name(SourceKind kind);

// What a JSON record looks like: a CloudTrail record, a Docker event, or ECS.
SourceKind detect_source(simdjson::dom::element record);

// Writes the ECS document for a raw record into `out`. Returns false, with
// the reason, when the record cannot be decoded.
bool decode_cloudtrail(simdjson::dom::element record, std::string& out, std::string& error);
bool decode_docker(simdjson::dom::element event, std::string& out, std::string& error);

}  // namespace pickaxe
