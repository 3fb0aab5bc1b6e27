// `pickaxe ship`: the fleet's producer. Reads files (once, or followed) and
// stdin as watch reads them, decodes each event to ECS and publishes it to
// PICKAXE_EVENTS on its partition's subject, with an id that lets the
// server drop a publish made twice.
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/state_dir.h"
#include "fleet/fleet.h"
#include "ingest/follow.h"
#include "source/documents.h"
#include "util/signals.h"
#include "util/uuid.h"

namespace pickaxe::cli {

namespace {

constexpr auto kCheckpointEvery = std::chrono::seconds(2);
constexpr auto kQuietInput = std::chrono::milliseconds(500);

struct ShipOptions {
  fleet::ConnectOptions connect;  // --nats, --nats-creds, --nats-ca
  std::vector<std::string> paths;
  uint32_t partitions = 16;
  std::vector<std::string> partition_key;
  std::string source = "auto";
  bool follow = false;
  std::string state_dir;
  bool reset_state = false;
  size_t max_line_bytes = 4 * 1024 * 1024;
  size_t in_flight = 4096;
  int replicas = 1;
  bool layout_given = false;  // --partitions or --partition-key given: the fleet must match
  bool quiet = false;
};

// Where an input's events come from, for their message ids: the file's path
// and identity (a rotated file is another source), or this run's stdin.
std::string source_id(const std::string& path) {
  struct stat info {};
  if (path == "-" || ::stat(path.c_str(), &info) != 0) {
    std::random_device random;
    return stable_uuid(fmt::format("stdin\n{}\n{}", ::getpid(), random())).substr(0, 18);
  }
  return stable_uuid(fmt::format("{}\n{}\n{}", path, info.st_dev, info.st_ino)).substr(0, 18);
}

int run_ship(const ShipOptions& options) {
  std::optional<SourceKind> source = source_kind_from_name(options.source);
  if (!source) {
    std::cerr << fmt::format("pickaxe: --source: '{}' is not a source\n", options.source);
    return kUsage;
  }
  if (options.reset_state && options.state_dir.empty()) {
    std::cerr << "pickaxe: --reset-state needs --state-dir\n";
    return kUsage;
  }
  std::vector<std::string> paths;
  bool read_stdin = options.paths.empty();
  for (const std::string& path : options.paths) {
    if (path == "-") {
      read_stdin = true;
      continue;
    }
    // Read once with a state folder, every named file must be there
    // (followed, it may come later; read once without one, it is reported
    // as hunt reports it, and the others are read).
    std::error_code code;
    if (!options.follow && !options.state_dir.empty() && !std::filesystem::exists(path, code) &&
        path.find_first_of("*?[") == std::string::npos) {
      std::cerr << fmt::format("pickaxe: {}: no such file or folder\n", path);
      return kFindings;
    }
    paths.push_back(path);
  }
  fleet::Layout wanted;
  wanted.partitions = options.partitions;
  if (!options.partition_key.empty()) wanted.key = options.partition_key;
  const bool insist = options.layout_given;

  fleet::ConnectOptions connect = options.connect;
  connect.name = "pickaxe ship";
  connect.in_flight = options.in_flight;
  connect.replicas = options.replicas;
  connect.on_connection_event = [&](const std::string& message) {
    if (!options.quiet) std::cerr << "pickaxe: " << message << "\n";
  };
  std::string error;
  std::unique_ptr<fleet::Transport> transport = fleet::connect_nats(connect, error);
  fleet::Layout layout;
  if (!transport ||
      !fleet::set_up(*transport, wanted, insist, layout, error, connect.on_connection_event)) {
    std::cerr << "pickaxe: " << error << "\n";
    return kFindings;
  }
  const size_t max_message = transport->max_message_bytes();

  std::unique_ptr<Checkpoints> checkpoints;
  Checkpoint restored;
  if (!options.state_dir.empty()) {
    checkpoints = std::make_unique<Checkpoints>(options.state_dir);
    if (!checkpoints->open(error)) {
      std::cerr << "pickaxe: --state-dir: " << error << "\n";
      return kFindings;
    }
    if (options.reset_state) std::filesystem::remove(checkpoints->path());
    bool exists = false;
    std::string text = read_whole(checkpoints->path(), exists);
    if (exists && !decode(text, restored, error)) {
      std::cerr << fmt::format("pickaxe: {}: {}; --reset-state starts afresh\n",
                               checkpoints->path(), error);
      return kFindings;
    }
  }

  // Each event: its partition from its key, its id from its source and place.
  uint64_t published = 0, unkeyed = 0, oversized = 0, refused = 0, problems = 0;
  std::chrono::steady_clock::duration publishing{};  // in publish calls and the last flush
  std::map<uint64_t, std::unique_ptr<LiveInput>> inputs;
  std::map<uint64_t, std::string> source_ids;
  std::map<uint64_t, std::chrono::steady_clock::time_point> fed_at;
  std::string current_source, current_name;  // the input being read
  // The followed input whose bytes are being read.
  auto set_current = [&](uint64_t id) {
    current_source = source_ids.at(id);
    current_name = inputs.at(id)->name;
  };
  simdjson::dom::parser parser;
  bool failed = false;
  // The first 100 input problems are shown, as hunt shows them (--follow: all).
  auto on_problem = [&](const InputProblem& problem) {
    ++problems;
    if (!options.quiet && (problems <= 100 || options.follow))
      std::cerr << describe_problem(problem);
  };
  DocumentReader reader(
      *source, options.max_line_bytes,
      [&](std::string_view ecs, uint64_t line, uint32_t index, SourceKind) {
        if (failed) return;
        const std::string id = fmt::format("{}:{}:{}", current_source, line, index);
        // The server counts the headers too (the message id's, with its framing).
        const size_t size = ecs.size() + id.size() + 64;
        if (size > max_message) {
          ++oversized;
          on_problem({current_name, line,
                      fmt::format("event of {} bytes is larger than the server takes ({} "
                                  "bytes with its headers, max_payload); skipped",
                                  ecs.size(), max_message)});
          return;
        }
        uint32_t partition = 0;  // events without a key all go to partition 0
        simdjson::dom::element document;
        if (!parser.parse(ecs.data(), ecs.size()).get(document)) {
          if (auto key = fleet::partition_key_of(document, layout.key))
            partition = fleet::partition_of(key->value, layout.partitions);
          else
            ++unkeyed;
        }
        std::string why;
        fleet::Status status;
        const auto publish_began = std::chrono::steady_clock::now();
        // The server away: publishing waits for it (a stop signal ends the wait).
        for (int attempt = 0;
             (status = transport->publish(fleet::events_subject(partition), ecs, id, {}, why)) ==
                 fleet::Status::Unavailable &&
             !stop_requested();
             ++attempt) {
          if (attempt % 20 == 0 && !options.quiet)
            std::cerr << fmt::format("pickaxe: cannot publish: {}; retrying\n", why);
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        publishing += std::chrono::steady_clock::now() - publish_began;
        if (status == fleet::Status::Ok) {
          ++published;
        } else if (status == fleet::Status::Unavailable) {
          // Stopped while the server was away: no checkpoint may pass this event.
          std::cerr << fmt::format("pickaxe: {}:{}: not published before stopping: {}\n",
                                   current_name, line, why);
          failed = true;
        } else {
          ++refused;
          on_problem({current_name, line, fmt::format("the server refused it: {}; skipped", why)});
        }
      },
      on_problem);

  // Events the server refused after taking them in flight (a stream limit).
  auto report_refused = [&] {
    for (const std::string& message : transport->take_refused()) {
      ++refused;
      on_problem({"<" + std::string(fleet::kEventsStream) + ">", 0,
                  fmt::format("the server refused {}; skipped", message)});
    }
  };
  install_stop_signals();
  install_reload_signal();  // SIGHUP is not fatal (log rotation tools send it)
  const auto started = std::chrono::steady_clock::now();
  auto summary = [&](bool saved) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const DocumentStats stats = reader.stats();
    if (!options.quiet) {
      std::cerr << fmt::format(
          "ship: {} events published to {} partitions of {} in {:.2f} s ({:.0f} events/s; "
          "{:.2f} s publishing)\n",
          published, layout.partitions, fleet::kEventsStream, seconds,
          seconds > 0 ? published / seconds : 0.0,
          std::chrono::duration<double>(publishing).count());
      if (unkeyed > 0)
        std::cerr << fmt::format("  {} without a partition key ({}): sent to partition 0\n",
                                 unkeyed, fmt::join(layout.key, ", "));
      if (problems > 100 && !options.follow)
        std::cerr << fmt::format("pickaxe: {} more input problems not shown\n", problems - 100);
      if (stats.malformed > 0 || oversized > 0 || refused > 0)
        std::cerr << fmt::format(
            "  skipped {} malformed, {} larger than the server takes, {} refused by it\n",
            stats.malformed, oversized, refused);
    }
    if (stop_requested()) {
      if (!options.quiet)
        std::cerr << fmt::format("pickaxe: stopped by {}: {}\n", stop_signal_name(),
                                 saved ? "every event read was published" : "not all published");
      return saved ? kSuccess : kFindings;
    }
    return saved && !failed ? kSuccess : kFindings;
  };
  if (!options.follow && !checkpoints) {
    // Read once, as hunt reads: any format, compressed or not. A run made
    // again within the duplicate window publishes nothing twice.
    bool readable = read_inputs(
        options.paths,
        [&](std::istream& in, const std::string& name) {
          current_source = source_id(name == "<stdin>" ? "-" : name);
          current_name = name;
          reader.read(in, name);
        },
        [&] { return failed; });
    std::string why;
    const auto flush_began = std::chrono::steady_clock::now();
    const bool flushed =
        !failed && transport->flush(std::chrono::seconds(30), why) == fleet::Status::Ok;
    report_refused();
    publishing += std::chrono::steady_clock::now() - flush_began;
    if (!flushed && !failed) std::cerr << "pickaxe: " << why << "\n";
    const int code = summary(flushed);
    return readable ? code : kFindings;
  }

  std::vector<std::string> follow_paths = paths;
  FileFollower follower(follow_paths, /*from_beginning=*/true);
  FileFollower::Handler handler{[&](uint64_t id, const std::string& path) {
                                  auto input = std::make_unique<LiveInput>();
                                  input->name = path;
                                  inputs[id] = std::move(input);
                                  source_ids[id] = source_id(path);
                                  fed_at[id] = std::chrono::steady_clock::now();
                                },
                                [&](uint64_t id, std::string_view bytes) {
                                  set_current(id);
                                  fed_at[id] = std::chrono::steady_clock::now();
                                  reader.feed(*inputs.at(id), bytes);
                                },
                                [&](uint64_t id) {
                                  set_current(id);
                                  reader.end(*inputs.at(id));
                                  inputs.erase(id);
                                  fed_at.erase(id);
                                },
                                [&](const std::string& path, const std::string& message) {
                                  if (!options.quiet)
                                    std::cerr << fmt::format("pickaxe: {}: {}\n", path, message);
                                }};
  if (!restored.inputs.empty()) {
    if (std::optional<std::string> damaged =
            restore_inputs(follower, handler, restored.inputs, inputs,
                           [&](uint64_t id, LiveInput& input, const SavedInput& saved) {
                             set_current(id);
                             return reader.restore(input, *saved.kind, saved.decoder);
                           })) {
      std::cerr << fmt::format(
          "pickaxe: {}: the state of {} is damaged; --reset-state starts afresh\n",
          checkpoints->path(), *damaged);
      return kFindings;
    }
    if (!options.quiet) std::cerr << fmt::format("pickaxe: resumed from {}\n", checkpoints->path());
  }
  constexpr uint64_t kStdin = 0;
  if (read_stdin) {
    inputs[kStdin] = std::make_unique<LiveInput>();
    inputs[kStdin]->name = "-";
    source_ids[kStdin] = source_id("-");
    fed_at[kStdin] = std::chrono::steady_clock::now();
  }

  // A checkpoint covers only what the server acknowledged.
  auto checkpoint = [&]() -> bool {
    std::string why;
    const fleet::Status flushed = transport->flush(std::chrono::seconds(30), why);
    report_refused();
    if (flushed != fleet::Status::Ok) {
      std::cerr << "pickaxe: " << why << "; the checkpoint waits\n";
      return false;
    }
    if (!checkpoints) return true;
    Checkpoint state;
    state.inputs = save_inputs(follower, inputs);
    if (!checkpoints->write(encode(state), why)) {
      std::cerr << "pickaxe: " << why << "\n";
      return false;
    }
    return true;
  };

  auto checkpointed = started;
  std::vector<char> buffer(64 * 1024);
  follower.start(handler);
  while (!stop_requested() && !failed) {
    size_t got = follower.poll(handler);
    if (read_stdin) {
      pollfd descriptor{STDIN_FILENO, POLLIN, 0};
      ssize_t read = -1;
      errno = EAGAIN;
      if (::poll(&descriptor, 1, got > 0 ? 0 : 100) > 0)
        read = ::read(STDIN_FILENO, buffer.data(), buffer.size());
      if (read > 0) {
        set_current(kStdin);
        fed_at[kStdin] = std::chrono::steady_clock::now();
        reader.feed(*inputs.at(kStdin), std::string_view(buffer.data(), read));
        got += static_cast<size_t>(read);
      } else if (read == 0 || (errno != EINTR && errno != EAGAIN)) {
        set_current(kStdin);
        reader.end(*inputs.at(kStdin));
        inputs.erase(kStdin);
        read_stdin = false;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, input] : inputs) {
      if (input->decoder && input->decoder->open_event() && now - fed_at[id] >= kQuietInput) {
        set_current(id);
        reader.settle(*input);
      }
    }
    if (now - checkpointed >= kCheckpointEvery) {
      if (checkpoint()) checkpointed = now;
    }
    // Read once, the run ends when every file was read to its end.
    if (got == 0 && !read_stdin && !options.follow) break;
    if (got == 0 && !read_stdin) follower.wait(std::chrono::milliseconds(100));
  }
  // The files do not end here: their positions go in the checkpoint, and a
  // last line without its newline waits for it (as watch's stop does). An
  // event a text decoder holds open goes now.
  for (auto& [id, input] : inputs) {
    set_current(id);
    reader.settle(*input);
  }
  const bool saved = !failed && checkpoint();
  return summary(saved);
}

}  // namespace

void add_nats_options(CLI::App* command, fleet::ConnectOptions& connect) {
  command
      ->add_option("--nats", connect.url,
                   "The NATS servers' URL (several: comma-separated; user:password@ or a token "
                   "may be in it)")
      ->default_str("nats://127.0.0.1:4222");
  command
      ->add_option("--nats-creds", connect.credentials,
                   "A NATS credentials file (user JWT and NKey seed) to connect with")
      ->check(CLI::ExistingFile);
  command
      ->add_option("--nats-ca", connect.ca,
                   "CA certificates (PEM) to check the servers' TLS certificates with; connects "
                   "with TLS")
      ->check(CLI::ExistingFile);
}

void add_layout_options(CLI::App* command, uint32_t& partitions,
                        std::vector<std::string>& partition_key, int& replicas, bool& given) {
  command
      ->add_option("--partitions", partitions,
                   "Partitions of the fleet, when it has no layout yet (else it must match)")
      ->default_str("16")
      ->check(CLI::Range(1, 4096))
      ->each([&given](const std::string&) { given = true; });
  command
      ->add_option("--partition-key", partition_key,
                   "The fields that place an event, the first it holds deciding (repeatable; "
                   "default: host.id, host.name, cloud.account.id, container.id)")
      ->allow_extra_args(false)
      ->each([&given](const std::string&) { given = true; });
  command
      ->add_option("--replicas", replicas,
                   "Replicas of the streams and buckets, when this creates them (3 on a 3-node "
                   "cluster)")
      ->default_str("1")
      ->check(CLI::Range(1, 5));
}

void add_ship_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<ShipOptions>();
  CLI::App* command = app.add_subcommand(
      "ship",
      "Publish events to a fleet: read files (or stdin), decode each event to ECS and publish it "
      "to the NATS JetStream stream PICKAXE_EVENTS, on the subject of its partition "
      "(pickaxe.events.N). `pickaxe serve` workers run the rules over them.");
  command->add_option("paths", options->paths,
                      "Files, globs or folders to read; - is stdin, also the default");
  add_nats_options(command, options->connect);
  add_layout_options(command, options->partitions, options->partition_key, options->replicas,
                     options->layout_given);
  command
      ->add_option("--source", options->source,
                   "How to read records: auto, ecs, cloudtrail, docker, auditd, sysmon")
      ->default_str("auto");
  command->add_flag("--follow", options->follow,
                    "Keep following the files as they grow (tail -F), until a stop signal");
  command->add_option("--state-dir", options->state_dir,
                      "Keep the files' positions here: a restart neither skips nor repeats");
  command->add_flag("--reset-state", options->reset_state,
                    "With --state-dir: start afresh, forgetting the positions");
  command->add_option("--max-line-bytes", options->max_line_bytes,
                      "Longer lines are reported and skipped");
  command
      ->add_option("--in-flight", options->in_flight,
                   "Publishes awaiting the server's acknowledgement, at most")
      ->check(CLI::Range(1, 1 << 20));
  command->add_flag("--quiet", options->quiet, "No summary or input problems on stderr");
  command->callback([options, &run] { run = [options] { return run_ship(*options); }; });
}

}  // namespace pickaxe::cli
