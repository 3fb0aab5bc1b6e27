// The fleet's names on the log and the setup producers and workers share.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "fleet/partitioning.h"
#include "fleet/transport.h"

namespace pickaxe::fleet {

inline constexpr const char* kEventsStream = "PICKAXE_EVENTS";
inline constexpr const char* kAlertsStream = "PICKAXE_ALERTS";
inline constexpr const char* kDeadLetterStream = "PICKAXE_DEAD_LETTER";
inline constexpr const char* kFleetBucket = "PICKAXE_FLEET";   // the layout
inline constexpr const char* kLeaseBucket = "PICKAXE_LEASES";  // leases, live workers
inline constexpr const char* kStateBucket = "PICKAXE_STATE";   // partition checkpoints
// Alerts replayed after a takeover come within this window of their first
// publish, and are dropped as duplicates: it is far above the checkpoint
// interval plus the lease TTL.
inline constexpr std::chrono::minutes kAlertDuplicateWindow{10};
// A producer restarted without its checkpoint repeats at most this long back.
inline constexpr std::chrono::minutes kEventDuplicateWindow{10};

std::string events_subject(uint32_t partition);          // pickaxe.events.<partition>
std::string alerts_subject(std::string_view rule_id);    // pickaxe.alerts.<rule_id, made a token>
std::string dead_letter_subject(std::string_view unit);  // pickaxe.dead.<unit>

// Calls `attempt` again while it says Unavailable (the server away or slow
// to answer), backing off up to 5 s, until a stop signal. The first wait is
// said through `on_wait`.
Status patiently(const std::function<Status(std::string& why)>& attempt, std::string& why,
                 const std::function<void(const std::string&)>& on_wait = nullptr);

// Creates the streams when absent, and agrees on the layout: the one the
// fleet holds, else `wanted` (written for the others). With `insist`, a
// fleet holding another layout is an error (its events were partitioned
// otherwise). Returns false, with why.
// A server not reachable or slow to answer is waited for (until a stop
// signal), said once through `on_wait`.
bool set_up(Transport& transport, const Layout& wanted, bool insist, Layout& agreed,
            std::string& error, const std::function<void(const std::string&)>& on_wait = nullptr);

}  // namespace pickaxe::fleet
