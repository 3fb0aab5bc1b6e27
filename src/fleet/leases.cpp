#include "fleet/leases.h"

#include <algorithm>

#include <fmt/format.h>

namespace pickaxe::fleet {

namespace {

std::string lease_key(const std::string& unit) {
  return "lease." + unit;
}
std::string worker_key(const std::string& worker) {
  return "worker." + worker;
}

}  // namespace

Leases::Leases(Bucket& bucket, std::string worker, std::vector<std::string> units)
    : bucket_(bucket), worker_(std::move(worker)), units_(std::move(units)) {
  // Workers start their search for free partitions at different places.
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : worker_) hash = (hash ^ c) * 0x100000001b3ULL;
  if (!units_.empty())
    std::rotate(units_.begin(), units_.begin() + static_cast<long>(hash % units_.size()),
                units_.end());
}

std::vector<std::string> Leases::renew(std::string& problem) {
  std::vector<std::string> lost;
  std::string error;
  const auto now = std::chrono::steady_clock::now();
  // A lease not renewed for a whole TTL (the server away) may be another's now.
  auto expire = [&] {
    for (auto it = owned_.begin(); it != owned_.end();) {
      if (now - it->second.renewed < bucket_.ttl()) {
        ++it;
        continue;
      }
      lost.push_back(it->first);
      it = owned_.erase(it);
    }
  };
  if (bucket_.put(worker_key(worker_), worker_, error) != Status::Ok) {
    problem = "cannot heartbeat: " + error;
    expire();
    return lost;
  }
  for (auto it = owned_.begin(); it != owned_.end();) {
    Status status = bucket_.update(lease_key(it->first), worker_, it->second.revision, error);
    if (status == Status::Ok) it->second.renewed = now;
    if (status == Status::Ok || status == Status::Unavailable) {
      ++it;
      continue;
    }
    lost.push_back(it->first);
    it = owned_.erase(it);
  }
  expire();
  return lost;
}

Leases::Changes Leases::heartbeat(std::string& problem) {
  Changes changes;
  std::string error, renew_problem;
  const auto now = std::chrono::steady_clock::now();
  changes.lost = renew(renew_problem);
  if (!renew_problem.empty()) {
    problem = renew_problem;
    return changes;
  }
  std::vector<std::string> keys;
  if (bucket_.keys(keys, error) != Status::Ok) {
    problem = "cannot list the leases: " + error;
    return changes;
  }
  size_t workers = 0;
  std::vector<std::string> taken;
  for (const std::string& key : keys) {
    if (key.starts_with("worker.")) ++workers;
    if (key.starts_with("lease.")) taken.push_back(key.substr(6));
  }
  live_workers_ = std::max<size_t>(1, workers);
  const size_t share = (units_.size() + live_workers_ - 1) / live_workers_;
  for (const std::string& unit : units_) {
    if (owned_.size() >= share) break;
    if (owned_.count(unit) || std::find(taken.begin(), taken.end(), unit) != taken.end()) continue;
    uint64_t revision = 0;
    if (bucket_.create(lease_key(unit), worker_, revision, error) == Status::Ok) {
      owned_[unit] = Lease{revision, now};
      changes.acquired.push_back(unit);
    }
  }
  // Past our share (a worker joined): the surplus goes back, the global
  // partition last.
  if (owned_.size() > share) {
    std::vector<std::string> mine;
    for (const auto& [unit, lease] : owned_) mine.push_back(unit);
    std::stable_partition(mine.begin(), mine.end(),
                          [](const std::string& unit) { return unit != "global"; });
    for (size_t i = 0; i < owned_.size() - share; ++i) changes.surplus.push_back(mine[i]);
  }
  return changes;
}

void Leases::release(const std::string& unit) {
  std::string error;
  if (owned_.erase(unit)) bucket_.erase(lease_key(unit), error);
}

void Leases::release_all() {
  std::string error;
  for (const auto& [unit, lease] : owned_) bucket_.erase(lease_key(unit), error);
  owned_.clear();
  bucket_.erase(worker_key(worker_), error);
}

}  // namespace pickaxe::fleet
