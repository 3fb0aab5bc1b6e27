#include "cli/metrics.h"

#include <httplib.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace pickaxe::cli {

MetricsServer::MetricsServer() : server_(std::make_unique<httplib::Server>()) {}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

namespace {

// HOST and PORT of HOST:PORT ([IPv6]:PORT too); nullopt when it is not that.
std::optional<std::pair<std::string, int>> split_address(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (port < 0 || port > 65535) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::make_pair(host, port);
}

}  // namespace

bool MetricsServer::valid_address(const std::string& address, std::string& error) {
  if (split_address(address)) return true;
  error = fmt::format("--metrics-addr: '{}' is not HOST:PORT (e.g. 127.0.0.1:9464)", address);
  return false;
}

bool MetricsServer::start(const std::string& address, std::string& error) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      port = std::stoi(address.substr(colon + 1), &used);
      if (used != address.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535) {
    error = fmt::format("--metrics-addr: '{}' is not HOST:PORT (e.g. 127.0.0.1:9464)", address);
    return false;
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    response.set_content(metrics_, "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    // The loop publishes every 250 ms: silence means it is stuck.
    const double silent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - published_).count();
    if (silent > kStale) {
      response.status = 503;
      response.set_content(
          fmt::format("stalled: no news from the watch loop for {:.0f} s\n", silent), "text/plain");
      return;
    }
    response.set_content("ok\n", "text/plain");
  });
  // One request per connection: an idle client does not hold up the stop.
  server_->set_keep_alive_max_count(1);
  server_->set_read_timeout(1, 0);
  errno = 0;
  port_ =
      port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) {
    error = fmt::format("--metrics-addr: cannot listen on {}{}", address,
                        errno != 0 ? fmt::format(": {}", std::strerror(errno)) : "");
    return false;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Running before start() returns: a stop() before would not stop it.
  for (int wait = 0; wait < 1000 && !server_->is_running(); ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

void MetricsServer::publish(std::string metrics) {
  std::lock_guard lock(mutex_);
  metrics_ = std::move(metrics);
  published_ = std::chrono::steady_clock::now();
}

namespace {

// A Prometheus label value: backslashes, quotes and newlines escaped.
std::string label(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string metrics_text(const Figures& figures) {
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  const StreamStats& stream = figures.stats.stream;
  metric("pickaxe_events_total", "counter", "Events that went to the rules, by source.");
  for (SourceKind kind : {SourceKind::Ecs, SourceKind::CloudTrail, SourceKind::Docker,
                          SourceKind::Auditd, SourceKind::Sysmon})
    out += fmt::format("pickaxe_events_total{{source=\"{}\"}} {}\n", source_kind_name(kind),
                       stream.events_by_source[static_cast<size_t>(kind)]);
  metric("pickaxe_events_skipped_total", "counter", "Lines and events skipped, by reason.");
  out += fmt::format("pickaxe_events_skipped_total{{reason=\"malformed\"}} {}\n", stream.malformed);
  out += fmt::format("pickaxe_events_skipped_total{{reason=\"missing_timestamp\"}} {}\n",
                     stream.missing_timestamp);
  out +=
      fmt::format("pickaxe_events_skipped_total{{reason=\"wrong_type\"}} {}\n", stream.wrong_type);
  metric("pickaxe_events_prefiltered_total", "counter",
         "NDJSON lines holding none of the rules' literals, not parsed (counted as ECS events).");
  out += fmt::format("pickaxe_events_prefiltered_total {}\n", stream.prefiltered);
  metric("pickaxe_events_late_total", "counter",
         "Events later than --max-lateness, processed out of order.");
  out += fmt::format("pickaxe_events_late_total {}\n", stream.late);
  metric("pickaxe_events_held_ahead_total", "counter",
         "Events dated over an hour ahead of the stream, held apart until its time caught up "
         "(or 16 agreed).");
  out += fmt::format("pickaxe_events_held_ahead_total {}\n", stream.held_ahead);
  metric("pickaxe_bytes_read_total", "counter", "Bytes of input read.");
  out += fmt::format("pickaxe_bytes_read_total {}\n", stream.bytes);
  metric("pickaxe_alerts_total", "counter",
         "Alerts raised, by rule (building blocks not counted).");
  for (const auto& [rule, count] : figures.stats.alerts_by_rule)
    out += fmt::format("pickaxe_alerts_total{{rule=\"{}\"}} {}\n", label(rule), count);
  metric("pickaxe_input_lag_seconds", "gauge",
         "Wall clock minus the watermark (the stream's time less --max-lateness).");
  if (figures.lag) out += fmt::format("pickaxe_input_lag_seconds {:.3f}\n", *figures.lag);
  metric("pickaxe_bytes_behind", "gauge", "Bytes a followed file holds past what was read.");
  for (const auto& [file, bytes] : figures.behind)
    out += fmt::format("pickaxe_bytes_behind{{file=\"{}\"}} {}\n", label(file), bytes);
  metric("pickaxe_files_followed", "gauge", "Files followed now.");
  out += fmt::format("pickaxe_files_followed {}\n", figures.behind.size());
  metric("pickaxe_partial_sequences", "gauge", "Partial sequences held, over all rules.");
  out += fmt::format("pickaxe_partial_sequences {}\n", figures.partial_sequences);
  if (figures.checkpoint_age) {
    metric("pickaxe_checkpoint_age_seconds", "gauge", "Time since the last checkpoint.");
    out += fmt::format("pickaxe_checkpoint_age_seconds {:.3f}\n", *figures.checkpoint_age);
    metric("pickaxe_checkpoint_duration_seconds", "gauge", "How long the last checkpoint took.");
    out += fmt::format("pickaxe_checkpoint_duration_seconds {:.6f}\n",
                       figures.checkpoint_seconds.value_or(0));
  }
  metric("pickaxe_rule_reloads_total", "counter", "Rule reloads (SIGHUP), by result.");
  out += fmt::format("pickaxe_rule_reloads_total{{result=\"ok\"}} {}\n", figures.reloads);
  out +=
      fmt::format("pickaxe_rule_reloads_total{{result=\"failed\"}} {}\n", figures.failed_reloads);
  return out;
}

}  // namespace pickaxe::cli
