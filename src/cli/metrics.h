// watch's metrics endpoint: the Prometheus text format on /metrics and a
// health check on /healthz, served by cpp-httplib on a thread of its own.
// The watch loop publishes a new text now and then; the server only hands
// out the last one (it never reads the hunter).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

}  // namespace pickaxe::cli
