// Raw Linux audit logs (audit.log, `type=... msg=audit(TS:SERIAL): ...`) to
// ECS, as Elastic's auditd_manager integration (Auditbeat's auditd module)
// indexes them: the records of one event are joined by serial, ending at EOE
// or on a timeout, and the event is normalised from the joined records.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "source/source.h"

namespace pickaxe::source {

// One record (one line) of an audit event.
struct AuditRecord {
  std::string type;  // SYSCALL, EXECVE, ...
  std::string node;  // node= prefix, when the log was forwarded
  int64_t nanos = 0;
  uint64_t serial = 0;
  uint64_t line = 0;
  // Values as written, hex-decoded and unquoted; msg='...' contents inlined.
  std::vector<std::pair<std::string, std::string>> fields;

  const std::string* find(std::string_view key) const;
};

// Parses one audit.log line. Returns nullopt, with the reason, when the line
// is not an audit record or is cut short. `flaws` collects values kept as
// written because they could not be decoded (bad hex).
std::optional<AuditRecord> parse_audit_record(std::string_view line, std::string& error,
                                              std::vector<std::string>& flaws);

// Normalises the records of one event into an ECS document.
std::string audit_event_to_ecs(const std::vector<AuditRecord>& records);

// The syscall name for a number on an audit arch ("c000003e"), or "".
std::string_view syscall_name(std::string_view arch, int64_t number);
// The arch name for an audit arch value: x86_64, i386, aarch64, or the value.
std::string_view arch_name(std::string_view arch);

class AuditdDecoder : public TextDecoder {
 public:
  // Records of one serial later than `timeout_nanos` behind the newest record
  // end their event even without EOE; so does having more than
  // `max_pending` events open.
  AuditdDecoder(Emit emit, Problem problem, int64_t timeout_nanos = 2'000'000'000,
                size_t max_pending = 1024);
  void add_line(std::string_view text, uint64_t number) override;
  void finish() override;
  uint64_t flawed() const override { return flawed_; }
  // Multi-record syscall events that ended without their EOE record.
  uint64_t without_end() const override { return without_eoe_; }
  bool open_event() const override { return !pending_.empty(); }
  void save(std::string& out) const override;
  bool load(std::string_view in) override;

 private:
  struct Pending {
    std::vector<AuditRecord> records;
  };
  // node, serial and time: serials start again at 1 when a host reboots.
  using Key = std::tuple<std::string, uint64_t, int64_t>;

  void complete(const Key& key, bool saw_eoe);

  Emit emit_;
  Problem problem_;
  // The most records one event keeps (a PATH per file it touched); the rest
  // are reported and skipped.
  static constexpr size_t kMaxRecords = 4096;
  static constexpr int64_t kFutureLimit = 3'600'000'000'000;  // 1 hour
  int64_t timeout_;
  size_t max_pending_;
  std::map<Key, Pending> pending_;
  std::deque<Key> arrival_;  // open events, oldest first (may hold completed keys)
  int64_t newest_ = 0;
  uint64_t flawed_ = 0;
  uint64_t without_eoe_ = 0;
};

}  // namespace pickaxe::source
