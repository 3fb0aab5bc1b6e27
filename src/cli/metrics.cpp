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

}  // namespace pickaxe::cli
