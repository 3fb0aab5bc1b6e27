// `pickaxe serve`: a fleet worker. Takes a fair share of the partitions by
// lease, reads each one's events from its durable consumer, runs the rules
// with a hunter per partition, publishes alerts to PICKAXE_ALERTS, and
// checkpoints each partition's state with the stream sequence it covers;
// messages are acknowledged once a checkpoint covers them.
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/hunt_options.h"
#include "cli/metrics.h"
#include "eql/printer.h"
#include "fleet/checkpoint.h"
#include "fleet/fleet.h"
#include "fleet/leases.h"
#include "util/signals.h"
#include "util/uuid.h"

namespace pickaxe::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kGlobal = "global";

struct ServeOptions {
  HuntCommandOptions hunt;
  fleet::ConnectOptions connect;  // --nats, --nats-creds, --nats-ca
  std::string lease_ttl = "10s";
  std::string checkpoint_interval = "2s";
  std::string worker;
  size_t batch = 1000;
  uint32_t partitions = 16;
  std::vector<std::string> partition_key;
  int replicas = 1;
  bool layout_given = false;  // --partitions or --partition-key given: the fleet must match
  bool lease_ttl_given = false;
  bool new_rules = false;  // --new-rules: this worker's rules become the fleet's
};

// One partition this worker owns (or the global one): its reader, its
// hunter, and how far it has read and checkpointed.
struct Unit {
  std::string name;     // p3, global
  std::string subject;  // pickaxe.events.3, pickaxe.events.>
  std::optional<uint32_t> partition;
  std::unique_ptr<Hunter> hunter;
  LiveInput input;
  std::unique_ptr<fleet::StreamReader> reader;
  uint64_t sequence = 0;               // the last stream sequence read
  uint64_t checkpointed_sequence = 0;  // the last one a checkpoint covers
  uint64_t state_revision = 0;
  bool state_exists = false;
  std::optional<Clock::time_point> caught_up_at;  // when it last read all there was
  std::optional<Clock::time_point> idle_until;    // not asked again before
  uint64_t dead_letters = 0;
  uint64_t lag = 0;
  size_t checkpoint_bytes = 0;
  bool too_big_said = false;
  // An alert or dead letter could not be published before a stop: no
  // checkpoint may cover its event (the next owner reads it again).
  bool unpublished = false;
  uint64_t held_ahead_said = 0;  // events held apart, as last said
  uint64_t late_said = 0;        // events processed late, as last said
  Clock::time_point late_said_at{};
};

std::string default_worker_name() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string name;
  for (char c : std::string(host))
    name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  std::random_device random;
  return fmt::format("{}-{}-{:04x}", name.empty() ? "worker" : name, ::getpid(), random() & 0xffff);
}

// The partition a subject names (pickaxe.events.N), if it is one of the fleet's.
std::optional<uint32_t> partition_of_subject(std::string_view subject, uint32_t partitions) {
  constexpr std::string_view prefix = "pickaxe.events.";
  if (!subject.starts_with(prefix)) return std::nullopt;
  subject.remove_prefix(prefix.size());
  uint32_t partition = 0;
  auto [end, error] = std::from_chars(subject.data(), subject.data() + subject.size(), partition);
  if (error != std::errc() || end != subject.data() + subject.size() || partition >= partitions)
    return std::nullopt;
  return partition;
}

class Worker {
 public:
  Worker(const ServeOptions& options, fleet::Transport& transport, const fleet::Layout& layout,
         const LoadResult& loaded, const ExceptionSet* exceptions, const Schema& schema,
         HuntOptions hunt_options, std::vector<std::string> exact, std::vector<std::string> global)
      : options_(options),
        transport_(transport),
        layout_(layout),
        loaded_(loaded),
        exceptions_(exceptions),
        schema_(schema),
        hunt_options_(std::move(hunt_options)),
        exact_(std::move(exact)),
        global_(std::move(global)) {}

  // `fleet_bucket` holds the fleet's rule set (key `rules`): a worker whose
  // rules are no longer the fleet's stops, as at a stop signal.
  int run(fleet::Bucket& leases_bucket, fleet::Bucket& state, fleet::Bucket& fleet_bucket,
          const std::string& rules, const std::string& worker,
          std::chrono::nanoseconds checkpoint_every, MetricsServer* metrics);

 private:
  std::unique_ptr<Unit> open(const std::string& name, fleet::Bucket& state,
                             const std::string& worker);
  void process(Unit& unit, const fleet::Record& record);
  std::string check(const Unit& unit, const fleet::Record& record, bool& dead_letter);
  // Publishes for the unit, waiting for a server that is away; a stop signal
  // ends the wait (the unit is then not checkpointed past it). What the
  // server refuses for good is reported and counted.
  void publish(Unit& unit, const std::string& subject, std::string_view data, const std::string& id,
               const fleet::Headers& headers);
  // Reports publishes the server refused since the last call.
  void report_refused();
  // Writes the unit's state by compare-and-set; Conflict when another
  // worker wrote it since (the partition is theirs).
  fleet::Status write_state(Unit& unit, fleet::Bucket& state);
  // False when the partition was taken over (its state is then dropped).
  bool checkpoint(Unit& unit, fleet::Bucket& state);
  std::string metrics_text(const fleet::Leases& leases) const;

  const ServeOptions& options_;
  fleet::Transport& transport_;
  const fleet::Layout& layout_;
  const LoadResult& loaded_;
  const ExceptionSet* exceptions_;
  const Schema& schema_;
  HuntOptions hunt_options_;
  std::vector<std::string> exact_, global_;
  // The compiled programs of the partitions and of the global one, shared
  // by their units (declared before them: they outlive them).
  std::unique_ptr<Hunter> exact_prototype_, global_prototype_;
  std::map<std::string, std::unique_ptr<Unit>> units_;
  simdjson::dom::parser parser_;
  std::string line_;
  uint64_t acquired_ = 0, lost_ = 0, released_ = 0, dead_letters_ = 0, skipped_ = 0;
  uint64_t publish_failures_ = 0;
  Clock::time_point checkpointed_ = Clock::now();
  double checkpoint_seconds_ = 0;
  // Where the time goes, for the metrics and the bench.
  enum Stage { kFetch, kCheck, kMatch, kPublish, kCheckpoint, kStages };
  std::array<double, kStages> seconds_{};
  static constexpr std::array<const char*, kStages> kStageNames = {"fetch", "check", "match",
                                                                   "publish", "checkpoint"};
  class Timed {
   public:
    Timed(double& total) : total_(total), began_(Clock::now()) {}
    ~Timed() { total_ += std::chrono::duration<double>(Clock::now() - began_).count(); }

   private:
    double& total_;
    Clock::time_point began_;
  };
  const bool quiet_ = options_.hunt.stream.quiet;
};

void Worker::publish(Unit& unit, const std::string& subject, std::string_view data,
                     const std::string& id, const fleet::Headers& headers) {
  Timed timed(seconds_[kPublish]);
  std::string why;
  for (int attempt = 0;; ++attempt) {
    fleet::Status status = transport_.publish(subject, data, id, headers, why);
    if (status == fleet::Status::Ok) return;
    if (status == fleet::Status::Unavailable && stop_requested()) {
      unit.unpublished = true;
      std::cerr << fmt::format(
          "pickaxe: cannot publish to {} before stopping: {}; {} is not checkpointed past it\n",
          subject, why, unit.name);
      return;
    }
    if (status != fleet::Status::Unavailable) {
      ++publish_failures_;
      std::cerr << fmt::format("pickaxe: the server refused message {} on {}: {}; skipped\n", id,
                               subject, why);
      return;
    }
    if (attempt % 20 == 0 && !quiet_)
      std::cerr << fmt::format("pickaxe: cannot publish: {}; retrying\n", why);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

void Worker::report_refused() {
  for (const std::string& refused : transport_.take_refused()) {
    ++publish_failures_;
    std::cerr << fmt::format("pickaxe: the server refused {}; skipped\n", refused);
  }
}

std::unique_ptr<Unit> Worker::open(const std::string& name, fleet::Bucket& state,
                                   const std::string& worker) {
  auto unit = std::make_unique<Unit>();
  unit->name = name;
  unit->input.name = name == kGlobal ? "pickaxe.events.>" : "pickaxe.events." + name.substr(1);
  unit->subject = unit->input.name;
  if (name != kGlobal) unit->partition = static_cast<uint32_t>(std::stoul(name.substr(1)));
  HuntOptions hunt_options = hunt_options_;
  hunt_options.selection = {name == kGlobal ? global_ : exact_, {}, {}};
  hunt_options.exceptions = exceptions_;
  Unit* raw = unit.get();
  auto sink = [this, raw](const Alert& alert) {
    publish(*raw, fleet::alerts_subject(alert.rule ? alert.rule->rule_id : ""), alert.json,
            alert.uuid, {{"Pickaxe-Partition", raw->name}});
  };
  auto on_problem = [this](const InputProblem& problem) {
    if (!quiet_) std::cerr << describe_problem(problem);
  };
  // Every partition runs one compiled program: built once, then shared.
  std::unique_ptr<Hunter>& prototype = name == kGlobal ? global_prototype_ : exact_prototype_;
  if (!prototype) {
    Diagnostics diagnostics;
    prototype = std::make_unique<Hunter>(
        loaded_.rules, schema_, hunt_options, [](const Alert&) {}, [](const InputProblem&) {},
        diagnostics);
    for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
  }
  unit->hunter = std::make_unique<Hunter>(*prototype, sink, on_problem);
  // The checkpoint: the state and the sequence it covers.
  std::string bytes, why;
  fleet::Status status = state.get(name, bytes, unit->state_revision, why);
  if (status != fleet::Status::Ok && status != fleet::Status::NotFound) {
    std::cerr << fmt::format("pickaxe: cannot read the checkpoint of {}: {}\n", name, why);
    return nullptr;
  }
  unit->state_exists = status == fleet::Status::Ok;
  if (unit->state_exists) {
    fleet::PartitionCheckpoint saved;
    std::string error;
    const bool readable = fleet::decode_checkpoint(bytes, saved, error);
    uint64_t last = 0;
    const bool recreated =
        transport_.last_sequence(fleet::kEventsStream, last, why) == fleet::Status::Ok &&
        saved.sequence > last;
    if (recreated) {
      std::cerr << fmt::format(
          "pickaxe: the checkpoint of {} covers sequence {}, past the {} that {} holds (was the "
          "stream made anew?): {} starts afresh from sequence 1\n",
          name, saved.sequence, last, fleet::kEventsStream, name);
      saved.sequence = 0;
    } else if (!readable) {
      std::cerr << fmt::format(
          "pickaxe: the checkpoint of {} cannot be read ({}); it resumes at sequence {} with a "
          "fresh state\n",
          name, error, saved.sequence + 1);
    } else if (saved.rule_set != unit->hunter->rule_set_identity()) {
      std::cerr << fmt::format(
          "pickaxe: the checkpoint of {} is of other rules; it resumes at sequence {} with a "
          "fresh state\n",
          name, saved.sequence + 1);
    } else if (!unit->hunter->load(saved.hunt, &error)) {
      std::cerr << fmt::format(
          "pickaxe: the checkpoint of {}: {}; it resumes at sequence {} with a fresh state\n", name,
          error, saved.sequence + 1);
      unit->hunter = std::make_unique<Hunter>(*prototype, sink, on_problem);
    } else {
      unit->dead_letters = saved.dead_letters;
    }
    unit->sequence = unit->checkpointed_sequence = saved.sequence;
  }
  // What earlier owners said is not said again.
  unit->held_ahead_said = unit->hunter->stats().stream.held_ahead;
  unit->late_said = unit->hunter->stats().stream.late;
  // Taking the partition writes its checkpoint again, by compare-and-set:
  // a previous owner that has not noticed its lease is gone can no longer
  // write one.
  if (write_state(*unit, state) != fleet::Status::Ok) return nullptr;
  const std::string prefix = fmt::format("pickaxe-{}-", name);
  transport_.remove_readers(fleet::kEventsStream, prefix, why);
  unit->reader = transport_.open_reader(fleet::kEventsStream, unit->subject, prefix + worker,
                                        unit->sequence + 1, 0, why);
  if (!unit->reader) {
    std::cerr << "pickaxe: " << why << "\n";
    return nullptr;
  }
  unit->reader->pending(unit->lag, why);
  return unit;
}

// Why the message cannot be read as an event of this unit; empty when it can.
std::string Worker::check(const Unit& unit, const fleet::Record& record, bool& dead_letter) {
  std::optional<uint32_t> partition = unit.partition;
  if (!partition) {
    // The global partition reads every subject: messages of a partition are
    // dead-lettered by its owner; those of no partition, here.
    partition = partition_of_subject(record.subject, layout_.partitions);
    // With no rule run partitioned, nobody reads the partitions: here, then.
    dead_letter = !partition || exact_.empty();
    if (!partition)
      return fmt::format("the subject is not pickaxe.events.<0..{}>", layout_.partitions - 1);
  } else {
    dead_letter = true;
  }
  const size_t limit = options_.hunt.stream.max_line_bytes;
  if (record.data.size() > limit)
    return fmt::format("message of {} bytes is larger than --max-line-bytes {}", record.data.size(),
                       limit);
  simdjson::dom::element document;
  if (auto error = parser_.parse(record.data.data(), record.data.size()).get(document))
    return fmt::format("not JSON: {}", simdjson::error_message(error));
  if (!document.is_object()) return "not a JSON object";
  std::optional<fleet::KeyValue> key = fleet::partition_key_of(document, layout_.key);
  if (!key) {
    if (*partition == 0) return {};
    return fmt::format("no partition key ({}); events without one belong to partition 0",
                       fmt::join(layout_.key, ", "));
  }
  const uint32_t expected = fleet::partition_of(key->value, layout_.partitions);
  if (expected != *partition)
    return fmt::format("{} \"{}\" belongs to partition {}", key->field, key->value, expected);
  return {};
}

void Worker::process(Unit& unit, const fleet::Record& record) {
  if (record.sequence <= unit.sequence) return;  // delivered again: read already
  unit.sequence = record.sequence;
  bool dead_letter = false;
  std::string reason;
  {
    Timed timed(seconds_[kCheck]);
    reason = check(unit, record, dead_letter);
  }
  if (!reason.empty()) {
    if (!dead_letter) {
      ++skipped_;
      return;
    }
    ++unit.dead_letters;
    ++dead_letters_;
    if (!quiet_)
      std::cerr << fmt::format("pickaxe: {} {}:{}: {}; sent to {}\n", fleet::kEventsStream,
                               record.subject, record.sequence, reason, fleet::kDeadLetterStream);
    publish(unit, fleet::dead_letter_subject(unit.name), record.data,
            fmt::format("{}-{}", fleet::kEventsStream, record.sequence),
            {{"Pickaxe-Reason", reason},
             {"Pickaxe-Subject", std::string(record.subject)},
             {"Pickaxe-Sequence", std::to_string(record.sequence)}});
    return;
  }
  // Problems name the stream sequence as the line.
  unit.input.lines = record.sequence - 1;
  line_.assign(record.data);
  line_ += '\n';
  Timed timed(seconds_[kMatch]);
  unit.hunter->feed(unit.input, line_);
}

fleet::Status Worker::write_state(Unit& unit, fleet::Bucket& state) {
  fleet::PartitionCheckpoint saved;
  saved.sequence = unit.sequence;
  saved.rule_set = unit.hunter->rule_set_identity();
  saved.dead_letters = unit.dead_letters;
  unit.hunter->save(saved.hunt);
  const std::string bytes = fleet::encode_checkpoint(saved);
  unit.checkpoint_bytes = bytes.size();
  if (bytes.size() + 1024 > transport_.max_message_bytes()) {
    if (!unit.too_big_said)
      std::cerr << fmt::format(
          "pickaxe: the checkpoint of {} is {} bytes, more than the server takes ({} bytes): "
          "raise the server's max_payload or lower --max-sequence-state; its messages stay "
          "unacknowledged until one fits\n",
          unit.name, bytes.size(), transport_.max_message_bytes());
    unit.too_big_said = true;
    return fleet::Status::Failed;
  }
  unit.too_big_said = false;
  std::string why;
  fleet::Status status = unit.state_exists
                             ? state.update(unit.name, bytes, unit.state_revision, why)
                             : state.create(unit.name, bytes, unit.state_revision, why);
  if (status == fleet::Status::Conflict) {
    std::cerr << fmt::format("pickaxe: {} was checkpointed by another worker: it is theirs now\n",
                             unit.name);
  } else if (status != fleet::Status::Ok) {
    std::cerr << fmt::format("pickaxe: cannot checkpoint {}: {}\n", unit.name, why);
  } else {
    unit.state_exists = true;
  }
  return status;
}

bool Worker::checkpoint(Unit& unit, fleet::Bucket& state) {
  if (unit.sequence == unit.checkpointed_sequence || unit.unpublished) return true;
  fleet::Status status = write_state(unit, state);
  if (status == fleet::Status::Conflict) return false;
  if (status != fleet::Status::Ok) return true;  // tried again at the next interval
  unit.checkpointed_sequence = unit.sequence;
  std::string why;
  if (unit.reader->acknowledge(unit.sequence, why) != fleet::Status::Ok && !quiet_)
    std::cerr << fmt::format("pickaxe: cannot acknowledge {} up to {}: {}\n", unit.name,
                             unit.sequence, why);
  return true;
}

std::string Worker::metrics_text(const fleet::Leases& leases) const {
  // watch's figures, summed over the partitions owned now.
  Figures figures;
  HuntStats& sum = figures.stats;
  for (const auto& [name, unit] : units_) {
    const HuntStats stats = unit->hunter->stats();
    StreamStats& stream = sum.stream;
    for (size_t i = 0; i < stream.events_by_source.size(); ++i)
      stream.events_by_source[i] += stats.stream.events_by_source[i];
    stream.events += stats.stream.events;
    stream.malformed += stats.stream.malformed;
    stream.missing_timestamp += stats.stream.missing_timestamp;
    stream.wrong_type += stats.stream.wrong_type;
    stream.prefiltered += stats.stream.prefiltered;
    stream.late += stats.stream.late;
    stream.held_ahead += stats.stream.held_ahead;
    stream.bytes += stats.stream.bytes;
    sum.alerts += stats.alerts;
    for (const auto& [rule, count] : stats.alerts_by_rule) sum.alerts_by_rule[rule] += count;
    figures.partial_sequences += unit->hunter->partial_sequences();
  }
  figures.checkpoint_age = std::chrono::duration<double>(Clock::now() - checkpointed_).count();
  figures.checkpoint_seconds = checkpoint_seconds_;
  std::string out = cli::metrics_text(figures);
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("pickaxe_fleet_partitions_owned", "gauge", "Partitions this worker holds a lease on.");
  out += fmt::format("pickaxe_fleet_partitions_owned {}\n", leases.owned_count());
  metric("pickaxe_fleet_workers", "gauge", "Workers alive, as the leases bucket shows.");
  out += fmt::format("pickaxe_fleet_workers {}\n", leases.live_workers());
  metric("pickaxe_fleet_consumer_lag", "gauge", "Messages of a partition not yet read.");
  for (const auto& [name, unit] : units_)
    out += fmt::format("pickaxe_fleet_consumer_lag{{partition=\"{}\"}} {}\n", name, unit->lag);
  metric("pickaxe_fleet_checkpoint_bytes", "gauge", "Size of a partition's last checkpoint.");
  for (const auto& [name, unit] : units_)
    out += fmt::format("pickaxe_fleet_checkpoint_bytes{{partition=\"{}\"}} {}\n", name,
                       unit->checkpoint_bytes);
  metric("pickaxe_fleet_lease_changes_total", "counter", "Leases taken, lost and given back.");
  out += fmt::format("pickaxe_fleet_lease_changes_total{{change=\"acquired\"}} {}\n", acquired_);
  out += fmt::format("pickaxe_fleet_lease_changes_total{{change=\"lost\"}} {}\n", lost_);
  out += fmt::format("pickaxe_fleet_lease_changes_total{{change=\"released\"}} {}\n", released_);
  metric("pickaxe_fleet_dead_letters_total", "counter",
         "Messages sent to PICKAXE_DEAD_LETTER (not JSON, no partition key, too large...).");
  out += fmt::format("pickaxe_fleet_dead_letters_total {}\n", dead_letters_);
  metric("pickaxe_fleet_seconds_total", "counter",
         "Time spent by stage: fetch, check (JSON and partition key), match (the rules), "
         "publish (alerts, dead letters), checkpoint.");
  for (size_t stage = 0; stage < kStages; ++stage)
    out += fmt::format("pickaxe_fleet_seconds_total{{stage=\"{}\"}} {:.3f}\n", kStageNames[stage],
                       seconds_[stage]);
  return out;
}

int Worker::run(fleet::Bucket& leases_bucket, fleet::Bucket& state, fleet::Bucket& fleet_bucket,
                const std::string& rules, const std::string& worker,
                std::chrono::nanoseconds checkpoint_every, MetricsServer* metrics) {
  std::vector<std::string> names;
  if (!exact_.empty())
    for (uint32_t p = 0; p < layout_.partitions; ++p) names.push_back(fmt::format("p{}", p));
  if (!global_.empty()) names.push_back(kGlobal);
  fleet::Leases leases(leases_bucket, worker, names);
  const auto heartbeat_every = leases_bucket.ttl() / 3;
  // Waits for the server stay within a heartbeat, so that leases are renewed.
  const auto flush_wait = std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat_every);
  Clock::time_point heartbeat_at{}, checkpoint_tried_at = Clock::now(), published{};
  std::vector<fleet::Record> records;
  std::string problem_said;
  std::string resume_after;  // the partition the last round stopped after
  // A server away pauses the producers too: no partition is quiet while it
  // is, nor until every producer has had time to reconnect after it.
  Clock::time_point quiet_not_before{};
  auto server_was_away = [&] { quiet_not_before = Clock::now() + fleet::kLongestReconnectDelay; };
  // Checkpoints every unit: alerts acknowledged by the server first.
  auto checkpoint_all = [&] {
    Timed timed(seconds_[kCheckpoint]);
    const Clock::time_point began = Clock::now();
    for (auto& [name, unit] : units_) unit->hunter->drain();
    std::string why;
    const fleet::Status flushed = transport_.flush(flush_wait, why);
    report_refused();
    if (flushed != fleet::Status::Ok) {
      std::cerr << "pickaxe: " << why << "; the checkpoint waits\n";
      return;
    }
    for (auto it = units_.begin(); it != units_.end();) {
      if (checkpoint(*it->second, state)) {
        ++it;
        continue;
      }
      ++lost_;
      leases.forget(it->first);
      it = units_.erase(it);
    }
    checkpointed_ = Clock::now();
    checkpoint_seconds_ = std::chrono::duration<double>(checkpointed_ - began).count();
  };
  bool replaced = false;  // the fleet's rules changed: this worker stops
  while (!stop_requested() && !replaced) {
    const Clock::time_point now = Clock::now();
    if (now - heartbeat_at >= heartbeat_every) {
      heartbeat_at = now;
      std::string problem;
      std::string fleet_rules, why;
      uint64_t revision = 0;
      if (fleet_bucket.get("rules", fleet_rules, revision, why) == fleet::Status::Ok &&
          fleet_rules != rules) {
        std::cerr << "pickaxe: the fleet's rules changed (a worker started with --new-rules): "
                     "this worker checkpoints, gives its partitions back and stops\n";
        replaced = true;
        break;
      }
      auto drop_lost = [&](const std::vector<std::string>& lost) {
        if (!problem.empty() && problem != problem_said)
          std::cerr << "pickaxe: " << problem << "\n";
        problem_said = problem;
        for (const std::string& name : lost) {
          ++lost_;
          std::cerr << fmt::format(
              "pickaxe: lost the lease of {}: another worker goes on from its "
              "last checkpoint\n",
              name);
          units_.erase(name);
        }
      };
      fleet::Leases::Changes changes = leases.heartbeat(problem);
      drop_lost(changes.lost);
      for (const std::string& name : changes.surplus) {
        if (auto it = units_.find(name); it != units_.end()) {
          it->second->hunter->drain();
          std::string why;
          if (transport_.flush(flush_wait, why) != fleet::Status::Ok) continue;
          report_refused();
          if (!checkpoint(*it->second, state)) {
            // Taken over meanwhile: the lease is no longer ours to give back.
            leases.forget(name);
            units_.erase(it);
            continue;
          }
          units_.erase(it);
        }
        leases.release(name);
        ++released_;
        if (!quiet_) std::cerr << fmt::format("pickaxe: gave {} back (a fair share)\n", name);
      }
      std::vector<std::string> taken;
      for (const std::string& name : changes.acquired) {
        // Opening a partition (its checkpoint read, and the first time the
        // rules compiled) takes a while: the leases are renewed between
        // openings when that is due.
        if (Clock::now() - heartbeat_at >= heartbeat_every) {
          heartbeat_at = Clock::now();
          problem.clear();
          drop_lost(leases.renew(problem));
        }
        if (!leases.owns(name)) continue;  // expired meanwhile
        std::unique_ptr<Unit> unit = open(name, state, worker);
        if (!unit) {
          leases.release(name);
          continue;
        }
        ++acquired_;
        taken.push_back(fmt::format("{} (from {})", name, unit->sequence + 1));
        units_[name] = std::move(unit);
      }
      if (!taken.empty() && !quiet_)
        std::cerr << fmt::format("pickaxe: took {} partition{} (stream sequence): {}\n",
                                 taken.size(), taken.size() == 1 ? "" : "s",
                                 fmt::join(taken, ", "));
    }
    if (!transport_.connected()) server_was_away();
    quiet_not_before =
        std::max(quiet_not_before, transport_.reconnected_at() + fleet::kLongestReconnectDelay);
    size_t got = 0;
    // Partitions take turns from where the last round stopped, and a round
    // ends when a heartbeat is due: a worker slow through many partitions
    // still renews its leases within the TTL.
    auto next = units_.upper_bound(resume_after);
    for (size_t visited = 0; visited < units_.size(); ++visited, ++next) {
      if (visited > 0 && Clock::now() - heartbeat_at >= heartbeat_every) break;
      if (next == units_.end()) next = units_.begin();
      auto& [name, unit] = *next;
      resume_after = name;
      // A partition that had nothing is asked again a little later.
      if (unit->idle_until && Clock::now() < *unit->idle_until) continue;
      std::string why;
      fleet::Status fetched;
      {
        Timed timed(seconds_[kFetch]);
        fetched = unit->reader->fetch(options_.batch, std::chrono::milliseconds(0), records, why);
      }
      if (fetched != fleet::Status::Ok) {
        if (why != problem_said) std::cerr << "pickaxe: " << name << ": " << why << "\n";
        problem_said = why;
        unit->caught_up_at.reset();
        if (fetched == fleet::Status::Unavailable) server_was_away();
        continue;
      }
      got += records.size();
      unit->lag = unit->reader->last_pending();
      if (records.empty())
        unit->idle_until = Clock::now() + std::chrono::milliseconds(50);
      else
        unit->idle_until.reset();
      for (const fleet::Record& record : records) process(*unit, record);
      // A partition is quiet once it has read all its stream holds (a
      // backlog, or a pause of the server, is not quiet): from then on its
      // time moves with the wall clock, as watch's does. A server that was
      // away (see server_was_away) is not quiet either.
      Hunter& hunter = *unit->hunter;
      const Clock::time_point at = Clock::now();
      // Events far ahead of a partition's time wait apart (a clock error
      // must not move it): said, since their alerts wait with them.
      if (!records.empty()) {
        const uint64_t held = hunter.stats().stream.held_ahead;
        if (held > unit->held_ahead_said && !quiet_)
          std::cerr << fmt::format(
              "pickaxe: {}: {} events dated over an hour ahead of the partition's time, held "
              "apart until its time catches up or 16 agree (its older events came first)\n",
              name, held);
        unit->held_ahead_said = held;
        // Events older than the partition's time less --max-lateness are
        // processed as they come, out of order: said, at most every 10 s.
        const uint64_t late = hunter.stats().stream.late;
        if (late > unit->late_said && at - unit->late_said_at >= std::chrono::seconds(10)) {
          if (!quiet_)
            std::cerr << fmt::format(
                "pickaxe: {}: {} {} so far came after the partition's time had passed {} by "
                "more than --max-lateness ({}): processed in arrival order, where a sequence "
                "may miss such events; give --max-lateness room for your producers' pauses\n",
                name, late, late == 1 ? "event" : "events", late == 1 ? "it" : "them",
                options_.hunt.stream.max_lateness);
          unit->late_said = late;
          unit->late_said_at = at;
        }
      }
      // A fetch that came back empty while the server still counts messages
      // for this partition is not quiet: its time must not move on.
      if (!records.empty() || unit->lag > 0 || at < quiet_not_before) {
        unit->caught_up_at.reset();
      } else {
        if (!unit->caught_up_at) unit->caught_up_at = at;
        hunter.advance_quiet(
            std::chrono::duration_cast<std::chrono::nanoseconds>(at - *unit->caught_up_at).count());
      }
      hunter.drain();
    }
    if (Clock::now() - checkpoint_tried_at >= checkpoint_every) {
      checkpoint_all();
      checkpoint_tried_at = Clock::now();
    }
    if (take_reload_request())
      std::cerr << "pickaxe: SIGHUP: serve does not reload its rules; to change them, see "
                   "docs/FLEET.md (\"Changing the rules\")\n";
    if (metrics && Clock::now() - published >= std::chrono::milliseconds(250)) {
      published = Clock::now();
      metrics->publish(metrics_text(leases));
    }
    if (got == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // A clean stop: everything checkpointed, the leases given back at once.
  checkpoint_all();
  leases.release_all();
  uint64_t events = 0, late = 0, alerts = 0;
  for (const auto& [name, unit] : units_) {
    events += unit->hunter->stats().stream.events;
    late += unit->hunter->stats().stream.late;
    alerts += unit->hunter->stats().alerts;
  }
  if (!quiet_)
    std::cerr << fmt::format(
        "serve: {}; {} partitions checkpointed and given back (their counts, earlier owners' "
        "included: {} events, {} late, {} alerts; {} dead letters here)\n",
        replaced ? std::string("stopped: the fleet's rules changed")
                 : std::string("stopped by ") + stop_signal_name(),
        units_.size(), events, late, alerts, dead_letters_);
  return publish_failures_ > 0 ? kFindings : kSuccess;
}

int run_serve(ServeOptions& options) {
  HuntCommandOptions& hunt = options.hunt;
  std::optional<int64_t> ttl = parse_duration(options.lease_ttl);
  std::optional<int64_t> every = parse_duration(options.checkpoint_interval);
  if (!ttl || *ttl < 1'000'000'000) {
    std::cerr << fmt::format("pickaxe: --lease-ttl: '{}' is not a duration of 1s or more\n",
                             options.lease_ttl);
    return kUsage;
  }
  if (!every || *every <= 0) {
    std::cerr << fmt::format("pickaxe: --checkpoint-interval: '{}' is not a duration above 0\n",
                             options.checkpoint_interval);
    return kUsage;
  }
  if (std::chrono::nanoseconds(*every + *ttl) * 2 > fleet::kAlertDuplicateWindow)
    std::cerr << fmt::format(
        "pickaxe: --checkpoint-interval plus --lease-ttl is more than half the {} min in which "
        "PICKAXE_ALERTS drops duplicates: alerts raised again after a takeover may come twice\n",
        fleet::kAlertDuplicateWindow.count());
  if (options.worker.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789-_") != std::string::npos) {
    std::cerr << fmt::format(
        "pickaxe: --worker-name: '{}' may hold only letters, digits, - and _ (it names "
        "consumers and keys)\n",
        options.worker);
    return kUsage;
  }
  if (!hunt.metrics_address.empty() || hunt.metrics_address_given) {
    std::string error;
    if (!MetricsServer::valid_address(hunt.metrics_address, error)) {
      std::cerr << "pickaxe: " << error << "\n";
      return kUsage;
    }
  }
  std::optional<const sigma::Mapping*> sigma_mapping = load_sigma_mapping(hunt.sigma_mapping);
  if (!sigma_mapping) return kUsage;
  Schema schema;
  if (!load_mappings(hunt.stream.mappings, schema)) return kFindings;
  std::optional<StreamOptions> stream_options = stream_options_of(hunt.stream);
  if (!stream_options) return kUsage;
  std::optional<int64_t> window = parse_duration(hunt.suppress_window);
  if (!window) {
    std::cerr << fmt::format("pickaxe: --suppress-window: '{}' is not a duration\n",
                             hunt.suppress_window);
    return kUsage;
  }
  if (!hunt.detection_time.empty() && !parse_iso8601(hunt.detection_time)) {
    std::cerr << fmt::format("pickaxe: --detection-time: '{}' is not an ISO 8601 time\n",
                             hunt.detection_time);
    return kUsage;
  }
  std::vector<std::string> rule_paths = hunt.rules.empty() ? runtime_pack_paths() : hunt.rules;
  std::optional<LoadResult> loaded =
      load_rules_or_report(rule_paths, "serve", hunt.skip_invalid, *sigma_mapping);
  if (!loaded) return kFindings;
  if (!check_selection(loaded->rules, {hunt.rule_ids, hunt.tags, hunt.min_severity}, "serve"))
    return kUsage;
  std::optional<uint64_t> max_signals;
  if (!parse_max_signals(hunt.max_signals, max_signals)) return kUsage;
  ExceptionSet exceptions;
  if (!hunt.exceptions.empty() && !load_exceptions_or_report(hunt.exceptions, exceptions))
    return kFindings;

  fleet::ConnectOptions connect = options.connect;
  connect.name = "pickaxe serve";
  connect.replicas = options.replicas;
  connect.on_connection_event = [&](const std::string& message) {
    std::cerr << "pickaxe: " << message << "\n";
  };
  std::string error;
  std::unique_ptr<fleet::Transport> transport = fleet::connect_nats(connect, error);
  fleet::Layout layout;
  fleet::Layout wanted;
  wanted.partitions = options.partitions;
  if (!options.partition_key.empty()) wanted.key = options.partition_key;
  const bool insist = options.layout_given;
  if (!transport ||
      !fleet::set_up(*transport, wanted, insist, layout, error, connect.on_connection_event)) {
    std::cerr << "pickaxe: " << error << "\n";
    return kFindings;
  }
  // Rules whose events may span partitions run on the global one.
  RuleSelection selection{hunt.rule_ids, hunt.tags, hunt.min_severity};
  std::vector<std::string> exact, global;
  std::string inexact_list;
  size_t selected = 0;
  for (const Rule& rule : loaded->rules) {
    if (!rule.loaded() || !selection.selects(rule)) continue;
    ++selected;
    fleet::Exactness exactness = fleet::partition_exactness(rule, layout.key, hunt.suppress_by);
    (exactness.exact ? exact : global).push_back(rule.rule_id);
    if (!exactness.exact)
      inexact_list += fmt::format("  {} ({}): {}\n", rule.name, rule.rule_id, exactness.reason);
  }
  const std::string worker = options.worker.empty() ? default_worker_name() : options.worker;
  // Every worker must run the same rules and tuning (their checkpoints are
  // each other's): the fleet keeps the first one's, and --new-rules changes it.
  std::string rules_text =
      fmt::format("{}\n{}\n", fmt::join(hunt.suppress_by, ","), hunt.suppress_window);
  if (max_signals) rules_text += fmt::format("max_signals {}\n", *max_signals);
  for (const Rule& rule : loaded->rules) {
    if (!rule.loaded() || !selection.selects(rule)) continue;
    rules_text += fmt::format("{}\n{}\n{}\n", rule.rule_id, rule.name, eql::print(rule.query));
  }
  if (!hunt.exceptions.empty()) {
    std::ifstream in(hunt.exceptions, std::ios::binary);
    rules_text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string rules_identity = stable_uuid(rules_text);
  std::cerr << fmt::format("pickaxe: serve as {}: {} rules over {} partitions keyed by {}\n",
                           worker, selected, layout.partitions, fmt::join(layout.key, ", "));
  if (!global.empty())
    std::cerr << fmt::format(
        "pickaxe: {} {} not partition-exact: run on the global partition (exact, not scaled):\n{}",
        global.size(), global.size() == 1 ? "rule is" : "rules are", inexact_list);

  // A server slow to answer is waited for, as in set_up.
  auto open_bucket = [&](const char* name, std::chrono::nanoseconds bucket_ttl,
                         std::unique_ptr<fleet::Bucket>& bucket) {
    return fleet::patiently(
               [&](std::string& why) {
                 return transport->open_bucket(name, bucket_ttl, bucket, why);
               },
               error, connect.on_connection_event) == fleet::Status::Ok;
  };
  std::unique_ptr<fleet::Bucket> leases, state, fleet_bucket;
  if (!open_bucket(fleet::kLeaseBucket, std::chrono::nanoseconds(*ttl), leases) ||
      !open_bucket(fleet::kStateBucket, std::chrono::nanoseconds(0), state) ||
      !open_bucket(fleet::kFleetBucket, std::chrono::nanoseconds(0), fleet_bucket)) {
    std::cerr << "pickaxe: " << error << "\n";
    return kFindings;
  }
  {
    std::string fleet_rules, why;
    uint64_t revision = 0;
    fleet::Status status = fleet::patiently(
        [&](std::string& reason) {
          fleet::Status read = fleet_bucket->get("rules", fleet_rules, revision, reason);
          if (read != fleet::Status::NotFound) return read;
          fleet::Status written = fleet_bucket->create("rules", rules_identity, revision, reason);
          // Written by another worker meanwhile: read again.
          if (written == fleet::Status::Conflict)
            return fleet_bucket->get("rules", fleet_rules, revision, reason);
          return written;
        },
        why, connect.on_connection_event);
    if (status == fleet::Status::Ok && !fleet_rules.empty() && fleet_rules != rules_identity) {
      if (!options.new_rules) {
        std::cerr << "pickaxe: the fleet's workers run other rules or tuning than this one "
                     "(--rules, --rule-id, --tag, --min-severity, --exceptions, --suppress-by): "
                     "every worker must run the same. To change them, start one worker with "
                     "the new rules and --new-rules: the others stop (docs/FLEET.md, \"Changing "
                     "the rules\")\n";
        return kFindings;
      }
      status = fleet_bucket->put("rules", rules_identity, why);
      if (status == fleet::Status::Ok)
        std::cerr << "pickaxe: this worker's rules are the fleet's now: workers running others "
                     "stop at their next heartbeat\n";
    }
    if (status != fleet::Status::Ok) {
      std::cerr << fmt::format("pickaxe: cannot read the fleet's rules from {}: {}\n",
                               fleet::kFleetBucket, why);
      return kFindings;
    }
  }
  if (options.lease_ttl_given && std::chrono::nanoseconds(*ttl) != leases->ttl())
    std::cerr << fmt::format(
        "pickaxe: the fleet's leases last {} s (the bucket's TTL), not "
        "--lease-ttl\n",
        std::chrono::duration<double>(leases->ttl()).count());
  std::unique_ptr<MetricsServer> metrics;
  if (!hunt.metrics_address.empty()) {
    metrics = std::make_unique<MetricsServer>();
    if (!metrics->start(hunt.metrics_address, error)) {
      std::cerr << "pickaxe: " << error << "\n";
      return kFindings;
    }
    std::cerr << fmt::format("pickaxe: metrics on http://{}:{}/metrics\n",
                             hunt.metrics_address.substr(0, hunt.metrics_address.rfind(':')),
                             metrics->port());
  }
  HuntOptions hunt_options;
  hunt_options.stream = *stream_options;
  hunt_options.max_sequence_state = hunt.stream.max_sequence_state;
  hunt_options.spill_samples = false;  // the input never ends; the state is checkpointed
  hunt_options.detection_time = hunt.detection_time;
  hunt_options.suppress_by = hunt.suppress_by;
  hunt_options.suppress_window = *window;
  hunt_options.max_signals = max_signals;
  install_stop_signals();
  install_reload_signal();  // SIGHUP is said, not fatal: rules change by restarting workers
  Worker serving(options, *transport, layout, *loaded,
                 hunt.exceptions.empty() ? nullptr : &exceptions, schema, hunt_options, exact,
                 global);
  return serving.run(*leases, *state, *fleet_bucket, rules_identity, worker,
                     std::chrono::nanoseconds(*every), metrics.get());
}

}  // namespace

void add_serve_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<ServeOptions>();
  options->hunt.stream.max_lateness = "500ms";
  CLI::App* command = app.add_subcommand(
      "serve",
      "Run as a fleet worker: share the partitions of PICKAXE_EVENTS with the other workers "
      "(leases in NATS KV), run the rules over each one's events and publish alerts to "
      "PICKAXE_ALERTS. Stops, checkpointing and giving its partitions back, on SIGINT or "
      "SIGTERM.");
  add_rule_options(command, options->hunt);
  add_nats_options(command, options->connect);
  command
      ->add_option("--lease-ttl", options->lease_ttl,
                   "How long a dead worker's partitions wait before others take them over")
      ->default_str("10s")
      ->each([options](const std::string&) { options->lease_ttl_given = true; });
  command->add_flag("--new-rules", options->new_rules,
                    "Make this worker's rules the fleet's (after stopping the workers that run "
                    "others); without it, a worker whose rules differ from the fleet's stops");
  command
      ->add_option("--checkpoint-interval", options->checkpoint_interval,
                   "How often each partition's state is checkpointed (and its messages "
                   "acknowledged)")
      ->default_str("2s");
  command->add_option("--worker-name", options->worker,
                      "This worker's name in leases and consumers (default: host-pid-random)");
  add_layout_options(command, options->partitions, options->partition_key, options->replicas,
                     options->layout_given);
  command->add_option("--batch", options->batch, "Messages fetched at once per partition")
      ->check(CLI::Range(1, 100000));
  command->add_option("--detection-time", options->hunt.detection_time,
                      "The alerts' @timestamp, ISO 8601 (default: when each alert is raised)");
  command
      ->add_option("--metrics-addr", options->hunt.metrics_address,
                   "Serve Prometheus metrics on http://HOST:PORT/metrics and /healthz")
      ->each([options](const std::string&) { options->hunt.metrics_address_given = true; });
  add_stream_flags(*command, options->hunt.stream,
                   "No input problems or partition changes on stderr");
  command->get_option("--max-lateness")->default_str("500ms");
  command->callback([options, &run] { run = [options] { return run_serve(*options); }; });
}

}  // namespace pickaxe::cli
