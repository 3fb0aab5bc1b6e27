// Which worker owns which partition: a lease per partition in a KV bucket
// whose values expire after its TTL, renewed by compare-and-set on each
// heartbeat. A worker that dies stops renewing; its leases expire and the
// others take them. Each worker aims at a fair share of the partitions:
// the count divided by the live workers (each heartbeats a key of its own),
// rounded up; one holding more gives the rest back.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fleet/transport.h"

namespace pickaxe::fleet {

class Leases {
 public:
  // `units`: the partitions' names ("p0", ..., "global").
  Leases(Bucket& bucket, std::string worker, std::vector<std::string> units);

  struct Changes {
    std::vector<std::string> acquired;  // now ours: restore and read them
    std::vector<std::string> lost;      // taken by another worker (or expired): drop them
    std::vector<std::string> surplus;   // past our fair share: checkpoint, then release()
  };
  // One heartbeat: renews our leases and takes free ones up to our share.
  // Connection problems are retried at the next heartbeat (leases are kept
  // until they could have expired); they are said in `problem`.
  Changes heartbeat(std::string& problem);
  // Only renews our leases (between slow steps of taking partitions):
  // returns those lost.
  std::vector<std::string> renew(std::string& problem);
  // Gives a lease back (after its partition's last checkpoint).
  void release(const std::string& unit);
  // Stops renewing a lease that is another's now (its key is left to
  // expire, or to its new owner).
  void forget(const std::string& unit) { owned_.erase(unit); }
  // Gives every lease back and removes the worker's key (a clean stop).
  void release_all();
  bool owns(const std::string& unit) const { return owned_.count(unit) > 0; }
  size_t owned_count() const { return owned_.size(); }
  size_t live_workers() const { return live_workers_; }

 private:
  Bucket& bucket_;
  std::string worker_;
  std::vector<std::string> units_;
  struct Lease {
    uint64_t revision = 0;
    std::chrono::steady_clock::time_point renewed;  // last renewed (or taken)
  };
  std::map<std::string, Lease> owned_;
  size_t live_workers_ = 1;
};

}  // namespace pickaxe::fleet
