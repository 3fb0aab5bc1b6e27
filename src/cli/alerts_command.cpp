// `pickaxe alerts`: prints the alerts a fleet raised, from PICKAXE_ALERTS:
// all of them (or those since a time), then exits; or keeps following.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "cli/alert_output.h"
#include "cli/commands.h"
#include "event/date_format.h"
#include "fleet/fleet.h"
#include "util/output.h"
#include "util/signals.h"

namespace pickaxe::cli {

namespace {

struct AlertsOptions {
  fleet::ConnectOptions connect;  // --nats, --nats-creds, --nats-ca
  std::string format;             // empty: table on a terminal, ndjson otherwise
  bool follow = false;
  std::vector<std::string> rule_ids;
  std::string since;
};

std::string field(simdjson::dom::element document, const std::string& path) {
  auto found = fleet::partition_key_of(document, {path});
  return found ? found->value : "";
}

int run_alerts(const AlertsOptions& options) {
  int64_t from_time = 0;
  if (!options.since.empty()) {
    if (std::optional<int64_t> time = parse_iso8601(options.since)) {
      from_time = *time;
    } else if (std::optional<int64_t> ago = parse_duration(options.since); ago && *ago > 0) {
      from_time = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count() -
                  *ago;
    } else {
      std::cerr << fmt::format(
          "pickaxe: --since: '{}' is neither an ISO 8601 time nor a duration (10m, 2h)\n",
          options.since);
      return kUsage;
    }
  }
  fleet::ConnectOptions connect = options.connect;
  connect.name = "pickaxe alerts";
  connect.wait_for_server = options.follow;  // a one-off read says at once that it cannot
  connect.on_connection_event = [](const std::string& message) {
    std::cerr << "pickaxe: " << message << "\n";
  };
  std::string error;
  std::unique_ptr<fleet::Transport> transport = fleet::connect_nats(connect, error);
  if (!transport) {
    std::cerr << "pickaxe: " << error << "\n";
    return kFindings;
  }
  fleet::StreamSpec spec{fleet::kAlertsStream, {"pickaxe.alerts.>"}, fleet::kAlertDuplicateWindow};
  std::string note;
  auto ensure = [&](std::string& why) { return transport->ensure_stream(spec, note, why); };
  // Following, a server slow to answer is waited for, as ship and serve do.
  if ((options.follow ? fleet::patiently(ensure, error, connect.on_connection_event)
                      : ensure(error)) != fleet::Status::Ok) {
    std::cerr << fmt::format("pickaxe: --nats {}: cannot read {}: {}\n",
                             fleet::redacted(options.connect.url), fleet::kAlertsStream, error);
    return kFindings;
  }
  const std::string subject = options.rule_ids.size() == 1
                                  ? fleet::alerts_subject(options.rule_ids[0])
                                  : "pickaxe.alerts.>";
  std::random_device random;
  const std::string name = fmt::format("pickaxe-alerts-{}-{:04x}", ::getpid(), random() & 0xffff);
  std::unique_ptr<fleet::StreamReader> reader =
      transport->open_reader(fleet::kAlertsStream, subject, name, 1, from_time, error);
  if (!reader) {
    std::cerr << "pickaxe: " << error << "\n";
    return kFindings;
  }
  const bool table = options.format == "table" || (options.format.empty() && stdout_is_terminal());
  Output out(STDOUT_FILENO);
  AlertWriterOptions writer_options;
  writer_options.format = table ? AlertFormat::Table : AlertFormat::Ndjson;
  writer_options.color = use_color("auto", STDOUT_FILENO);
  writer_options.width = terminal_width(STDOUT_FILENO);
  writer_options.flush_rows = isatty(STDOUT_FILENO) == 1;
  AlertWriter writer(out, writer_options);
  writer.begin();
  install_stop_signals();
  std::vector<fleet::Record> records;
  simdjson::dom::parser parser;
  std::vector<std::string> wanted;
  for (const std::string& id : options.rule_ids) wanted.push_back(fleet::alerts_subject(id));
  int status = kSuccess;
  while (!stop_requested()) {
    if (reader->fetch(500, std::chrono::milliseconds(options.follow ? 1000 : 300), records,
                      error) != fleet::Status::Ok) {
      std::cerr << "pickaxe: " << error << "\n";
      if (!options.follow) {
        status = kFindings;
        break;
      }
      continue;
    }
    for (const fleet::Record& record : records) {
      if (!wanted.empty() &&
          std::find(wanted.begin(), wanted.end(), record.subject) == wanted.end())
        continue;
      if (!table) {
        out.record(std::string(record.data) + "\n");
        continue;
      }
      simdjson::dom::element alert;
      if (parser.parse(record.data.data(), record.data.size()).get(alert)) continue;
      AlertRow row;
      row.time = field(alert, "kibana.alert.original_time");
      row.severity = field(alert, "kibana.alert.severity");
      row.rule = field(alert, "kibana.alert.rule.name");
      row.host = field(alert, "host.name");
      row.match = field(alert, "kibana.alert.reason");
      writer.write(row, record.data, !field(alert, "kibana.alert.building_block_type").empty());
    }
    if (!records.empty()) reader->acknowledge(records.back().sequence, error);
    out.flush();
    if (records.empty() && !options.follow) {
      uint64_t pending = 0;
      if (reader->pending(pending, error) == fleet::Status::Ok && pending == 0) break;
    }
  }
  reader.reset();
  transport->remove_readers(fleet::kAlertsStream, name, error);
  if (!finish_output(out, table ? "table rows" : "alerts")) return kFindings;
  return status;
}

}  // namespace

void add_alerts_command(CLI::App& app, std::function<int()>& run) {
  auto options = std::make_shared<AlertsOptions>();
  CLI::App* command = app.add_subcommand(
      "alerts",
      "Print the alerts a fleet of `pickaxe serve` workers raised (the stream PICKAXE_ALERTS): "
      "all of them, then exit, or keep following with --follow.");
  add_nats_options(command, options->connect);
  command
      ->add_option("--format", options->format,
                   "Output: ndjson (default when not a terminal) or table")
      ->check(CLI::IsMember({"ndjson", "table"}));
  command->add_flag("--follow", options->follow, "Keep printing new alerts until a stop signal");
  command->add_option("--rule-id", options->rule_ids, "Only this rule's alerts (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--since", options->since,
                      "Only alerts published since this time (ISO 8601) or this long ago (10m)");
  command->callback([options, &run] { run = [options] { return run_alerts(*options); }; });
}

}  // namespace pickaxe::cli
