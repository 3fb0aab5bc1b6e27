// Sysmon for Linux to ECS, as Elastic's sysmon_linux integration, but right
// where that pipeline is wrong on Linux (process.name, user.name, file.name).
// Three inputs carry the same event: syslog lines with the <Event> XML, JSON
// rows with the XML in SyslogMessage (Azure Sentinel), and Elastic Agent's
// decoded winlog documents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "source/source.h"

namespace pickaxe::source {

struct SysmonEvent {
  int64_t event_id = -1;
  std::string record_id, computer, channel, provider_name, provider_guid;
  std::string time_created, level, opcode, version, user_id;
  int64_t process_id = -1, thread_id = -1;  // of the Sysmon service
  std::string syslog_hostname, syslog_appname, syslog_procid;
  std::vector<std::pair<std::string, std::string>> data;  // EventData, in order

  const std::string* find(std::string_view name) const;
};

// Parses the <Event> XML. On failure, `error` says why and `error_offset` is
// the byte offset in `xml` where the problem is.
bool parse_sysmon_xml(std::string_view xml, SysmonEvent& event, std::string& error,
                      size_t& error_offset);
std::string sysmon_to_ecs(const SysmonEvent& event);

// JSON records: a winlog document or a row with SyslogMessage.
bool decode_sysmon_record(simdjson::dom::element record, std::string& out, std::string& error);
bool looks_like_sysmon_record(simdjson::dom::element record);

class SysmonDecoder : public TextDecoder {
 public:
  SysmonDecoder(Emit emit, Problem problem)
      : emit_(std::move(emit)), problem_(std::move(problem)) {}
  void add_line(std::string_view text, uint64_t number) override;
  void finish() override {}
  uint64_t flawed() const override { return 0; }
  // Syslog lines of Sysmon without an event (its start-up banner).
  uint64_t without_event() const override { return without_event_; }
  void save(std::string& out) const override;
  bool load(std::string_view in) override;

 private:
  Emit emit_;
  Problem problem_;
  uint64_t without_event_ = 0;
};

}  // namespace pickaxe::source
