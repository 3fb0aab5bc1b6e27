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
  // The top-level keys that tell sources apart, found in one pass (every
  // record of every input comes here).
  enum Key : uint32_t {
    kEventSource = 1 << 0,
    kEventName = 1 << 1,
    kEventTime = 1 << 2,
    kTimestamp = 1 << 3,
    kEvent = 1 << 4,
    kType = 1 << 5,
    kAction = 1 << 6,
    kStatus = 1 << 7,
    kTimeNano = 1 << 8,
    kTime = 1 << 9,
    kActor = 1 << 10,
    kId = 1 << 11,
    kSyslogMessage = 1 << 12,
    kWinlog = 1 << 13,
  };
  static constexpr std::pair<std::string_view, uint32_t> kKeys[] = {
      {"eventSource", kEventSource},
      {"eventName", kEventName},
      {"eventTime", kEventTime},
      {"@timestamp", kTimestamp},
      {"event", kEvent},
      {"Type", kType},
      {"Action", kAction},
      {"status", kStatus},
      {"timeNano", kTimeNano},
      {"time", kTime},
      {"Actor", kActor},
      {"id", kId},
      {"SyslogMessage", kSyslogMessage},
      {"winlog", kWinlog}};
  uint32_t seen = 0;
  simdjson::dom::object object = record.get_object().value_unsafe();
  for (auto [key, value] : object) {
    for (const auto& [name, bit] : kKeys) {
      if (key == name) {
        seen |= bit;
        break;
      }
    }
  }
  auto has_key = [&](uint32_t bits) { return (seen & bits) != 0; };
  // CloudTrail, also as Logstash ships it (its @timestamp instead of
  // eventTime); an ECS document has an `event` object instead.
  if (has_key(kEventSource) && has_key(kEventName) &&
      (has_key(kEventTime) || (has_key(kTimestamp) && !has_key(kEvent))))
    return SourceKind::CloudTrail;
  if (has_key(kType | kAction | kStatus) && has_key(kTimeNano | kTime) && has_key(kActor | kId) &&
      !has_key(kTimestamp))
    return SourceKind::Docker;
  if (has_key(kSyslogMessage | kWinlog) && !has_key(kTimestamp) &&
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
