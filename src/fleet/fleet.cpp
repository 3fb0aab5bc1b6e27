#include "fleet/fleet.h"

#include <algorithm>
#include <thread>

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

bool set_up(Transport& transport, const Layout& wanted, bool insist, Layout& agreed,
            std::string& error, const std::function<void(const std::string&)>& on_wait) {
  const StreamSpec streams[] = {
      {kEventsStream, {"pickaxe.events.>"}, kEventDuplicateWindow},
      {kAlertsStream, {"pickaxe.alerts.>"}, kAlertDuplicateWindow},
      {kDeadLetterStream, {"pickaxe.dead.>"}, std::chrono::minutes(2)},
  };
  for (const StreamSpec& stream : streams) {
    std::string why, note;
    Status status;
    // A server not up yet (or restarting) is waited for, said once.
    for (int attempt = 0;
         (status = transport.ensure_stream(stream, note, why)) == Status::Unavailable &&
         !stop_requested();
         ++attempt) {
      if (attempt == 0 && on_wait) on_wait(fmt::format("waiting for the NATS server ({})", why));
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(250 << std::min(attempt, 5), 5000)));
    }
    if (status != Status::Ok) {
      error = fmt::format("cannot set up the stream {}: {}", stream.name, why);
      return false;
    }
    if (!note.empty() && on_wait) on_wait(note);
  }
  std::unique_ptr<Bucket> bucket =
      transport.bucket(kFleetBucket, std::chrono::nanoseconds(0), error);
  if (!bucket) return false;
  std::string text, why;
  uint64_t revision = 0;
  Status status = bucket->get("layout", text, revision, why);
  if (status == Status::NotFound) {
    status = bucket->create("layout", wanted.encode(), revision, why);
    if (status == Status::Ok) {
      agreed = wanted;
      return true;
    }
    if (status == Status::Conflict) status = bucket->get("layout", text, revision, why);
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
