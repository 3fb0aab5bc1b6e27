// watch's metrics endpoint: the Prometheus text format on /metrics and a
// health check on /healthz, served by cpp-httplib on a thread of its own.
// The watch loop publishes a new text now and then; the server only hands
// out the last one (it never reads the hunter).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hunt/hunter.h"

namespace httplib {
class Server;
}

namespace pickaxe::cli {

class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Whether `address` reads as HOST:PORT; why not, when it does not.
  static bool valid_address(const std::string& address, std::string& error);
  // Listens on HOST:PORT (port 0: any free one); false, with why, when it cannot.
  bool start(const std::string& address, std::string& error);
  int port() const { return port_; }
  // The metrics text to serve from now on; /healthz answers 503 once none
  // has come for kStale seconds.
  void publish(std::string metrics);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::string metrics_;
  std::chrono::steady_clock::time_point published_ = std::chrono::steady_clock::now();
  static constexpr double kStale = 5;  // seconds without a publish: unhealthy
  int port_ = 0;
};

// What watch is doing, for the metrics endpoint and the status line.
struct Figures {
  HuntStats stats;
  uint64_t partial_sequences = 0;
  std::vector<std::pair<std::string, uint64_t>> behind;
  std::optional<double> lag;  // seconds: the wall clock past the watermark
  std::optional<double> checkpoint_age, checkpoint_seconds;
  uint64_t reloads = 0, failed_reloads = 0;
};

// The Prometheus text of watch's figures (serve's, summed over its partitions).
std::string metrics_text(const Figures& figures);

}  // namespace pickaxe::cli
