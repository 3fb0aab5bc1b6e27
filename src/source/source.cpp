#include "source/source.h"

#include "source/auditd/auditd.h"
#include "source/cloudtrail/cloudtrail.h"
#include "source/common.h"
#include "source/docker/docker.h"
#include "source/sysmon/sysmon.h"

namespace pickaxe {

using source::has;

std::optional<SourceKind> source_kind_from_name(std::string_view name) {
  if (name == "auto") return SourceKind::Auto;
  if (name == "ecs") return SourceKind::Ecs;
  if (name == "cloudtrail") return SourceKind::CloudTrail;
  if (name == "docker") return SourceKind::Docker;
  if (name == "auditd") return SourceKind::Auditd;
  if (name == "sysmon") return SourceKind::Sysmon;
  return std::nullopt;
}

std::string_view source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::Auto: return "auto";
    case SourceKind::Ecs: return "ecs";
    case SourceKind::CloudTrail: return "cloudtrail";
    case SourceKind::Docker: return "docker";
    case SourceKind::Auditd: return "auditd";
    case SourceKind::Sysmon: return "sysmon";
  }
  return "ecs";
}

SourceKind detect_source(simdjson::dom::element record) {
  if (!record.is_object()) return SourceKind::Ecs;
  // CloudTrail, also as Logstash ships it (its @timestamp instead of
  // eventTime); an ECS document has an `event` object instead.
  if (has(record, "eventSource") && has(record, "eventName") &&
      (has(record, "eventTime") || (has(record, "@timestamp") && !has(record, "event"))))
    return SourceKind::CloudTrail;
  if ((has(record, "Type") || has(record, "Action") || has(record, "status")) &&
      (has(record, "timeNano") || has(record, "time")) &&
      (has(record, "Actor") || has(record, "id")) && !has(record, "@timestamp"))
    return SourceKind::Docker;
  if ((has(record, "SyslogMessage") || has(record, "winlog")) && !has(record, "@timestamp") &&
      source::looks_like_sysmon_record(record))
    return SourceKind::Sysmon;
  return SourceKind::Ecs;
}

std::optional<SourceKind> detect_text_source(std::string_view line) {
  size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return std::nullopt;
  if (line[first] == '{' || line[first] == '[') return std::nullopt;  // JSON
  if (line.find("msg=audit(") != std::string_view::npos) return SourceKind::Auditd;
  if (line.find("<Event") != std::string_view::npos) return SourceKind::Sysmon;
  // Sysmon's start-up banner comes before its first event.
  if (line.find(" sysmon[") != std::string_view::npos ||
      line.find(" sysmon: ") != std::string_view::npos)
    return SourceKind::Sysmon;
  return std::nullopt;
}

bool decode_record(SourceKind kind, simdjson::dom::element record, std::string& out,
                   std::string& error) {
  switch (kind) {
    case SourceKind::CloudTrail: return source::decode_cloudtrail(record, out, error);
    case SourceKind::Docker: return source::decode_docker(record, out, error);
    case SourceKind::Sysmon: return source::decode_sysmon_record(record, out, error);
    default: break;
  }
  error = "this source is not read from JSON records";
  return false;
}

std::unique_ptr<TextDecoder> make_text_decoder(SourceKind kind, TextDecoder::Emit emit,
                                               TextDecoder::Problem problem) {
  if (kind == SourceKind::Auditd)
    return std::make_unique<source::AuditdDecoder>(std::move(emit), std::move(problem));
  if (kind == SourceKind::Sysmon)
    return std::make_unique<source::SysmonDecoder>(std::move(emit), std::move(problem));
  return nullptr;
}

}  // namespace pickaxe
