// AWS CloudTrail records to ECS, as Elastic's aws.cloudtrail integration.
#pragma once

#include <string>

#include <simdjson.h>

namespace pickaxe::source {

// Writes the ECS document for one CloudTrail record into `out`. Returns
// false, with the reason, when the record cannot be decoded.
bool decode_cloudtrail(simdjson::dom::element record, std::string& out, std::string& error);

}  // namespace pickaxe::source
