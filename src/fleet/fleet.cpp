#include "fleet/fleet.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/signals.h"

namespace pickaxe::fleet {

std::string events_subject(uint32_t partition) {
  return fmt::format("pickaxe.events.{}", partition);
}

namespace {

// A subject token: letters, digits, - and _ kept, anything else as _.
std::string token(std::string_view text) {
  std::string out;
  for (char c : text)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "_" : out;
}

}  // namespace

std::string alerts_subject(std::string_view rule_id) {
  return "pickaxe.alerts." + token(rule_id);
}
std::string dead_letter_subject(std::string_view unit) {
  return "pickaxe.dead." + token(unit);
}

Status patiently(const std::function<Status(std::string& why)>& attempt, std::string& why,
                 const std::function<void(const std::string&)>& on_wait) {
  Status status;
  for (int tries = 0; (status = attempt(why)) == Status::Unavailable && !stop_requested();
       ++tries) {
    if (tries == 0 && on_wait) on_wait(fmt::format("waiting for the NATS server ({})", why));
    sleep_unless_stopped(std::chrono::milliseconds(std::min(250 << std::min(tries, 5), 5000)));
  }
  return status;
}

bool set_up(Transport& transport, const Layout& wanted, bool insist, Layout& agreed,
            std::string& error, const std::function<void(const std::string&)>& on_wait) {
  const StreamSpec streams[] = {
      {kEventsStream, {"pickaxe.events.>"}, kEventDuplicateWindow},
      {kAlertsStream, {"pickaxe.alerts.>"}, kAlertDuplicateWindow},
      {kDeadLetterStream, {"pickaxe.dead.>"}, std::chrono::minutes(2)},
  };
  for (const StreamSpec& stream : streams) {
    std::string why, note;
    const Status status = patiently(
        [&](std::string& reason) { return transport.ensure_stream(stream, note, reason); }, why,
        on_wait);
    if (status != Status::Ok) {
      error = fmt::format("cannot set up the stream {}: {}", stream.name, why);
      return false;
    }
    if (!note.empty() && on_wait) on_wait(note);
  }
  std::unique_ptr<Bucket> bucket;
  std::string why;
  if (patiently(
          [&](std::string& reason) {
            return transport.open_bucket(kFleetBucket, std::chrono::nanoseconds(0), bucket, reason);
          },
          why, on_wait) != Status::Ok) {
    error = why;
    return false;
  }
  // Read, else written; when another process wrote it meanwhile, read again.
  std::string text;
  uint64_t revision = 0;
  bool ours = false;
  const Status status = patiently(
      [&](std::string& reason) {
        Status read = bucket->get("layout", text, revision, reason);
        if (read != Status::NotFound) return read;
        Status written = bucket->create("layout", wanted.encode(), revision, reason);
        ours = written == Status::Ok;
        if (written == Status::Conflict) return bucket->get("layout", text, revision, reason);
        return written;
      },
      why, on_wait);
  if (ours) {
    agreed = wanted;
    return true;
  }
  if (status != Status::Ok) {
    error = fmt::format("cannot read the fleet's layout from {}: {}", kFleetBucket, why);
    return false;
  }
  std::optional<Layout> found = Layout::decode(text);
  if (!found) {
    error = fmt::format("the fleet's layout in {} ('{}') is damaged", kFleetBucket, text);
    return false;
  }
  if (insist && !(*found == wanted)) {
    error = fmt::format(
        "the fleet is partitioned as {} (partitions, key), not {}: its events were placed so. "
        "Drop --partitions/--partition-key to join it, or remove the streams and the buckets "
        "{}, {} and {} to start over",
        found->encode(), wanted.encode(), kFleetBucket, kLeaseBucket, kStateBucket);
    return false;
  }
  agreed = *found;
  return true;
}

}  // namespace pickaxe::fleet
