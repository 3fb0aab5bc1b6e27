// `pickaxe watch` through the real binary: every alert within a second of
// the line that triggers it (also after an idle gap), and every alert exactly
// once across rotation by rename, copytruncate and truncation.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace {

using pickaxe::testing::read_text;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  int64_t millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     millis % 1000);
}

// Events named by a token that their alerts carry (as a quoted value).
std::string miner(const std::string& token) {
  return fmt::format(
      R"({{"labels":{{"token":"{}"}},"@timestamp":"{}","event":{{"category":["process"],"type":["start"]}},"host":{{"name":"{}"}},"process":{{"name":"xmrig","entity_id":"{}"}}}})"
      "\n",
      token, now_iso(), token, token);
}
std::string curl(const std::string& token) {
  return fmt::format(
      R"({{"labels":{{"token":"{}-curl"}},"@timestamp":"{}","event":{{"category":["process"],"type":["start"]}},"host":{{"name":"{}"}},"process":{{"name":"curl"}}}})"
      "\n",
      token, now_iso(), token);
}
std::string pool(const std::string& token) {
  return fmt::format(
      R"({{"labels":{{"token":"{}-pool"}},"@timestamp":"{}","event":{{"category":["network"],"type":["connection"]}},"host":{{"name":"{}"}},"destination":{{"port":3333}}}})"
      "\n",
      token, now_iso(), token);
}

void append(const fs::path& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0) << file;
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
}

class Watch : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() / fmt::format("pickaxe-watch-{}-{}", ::getpid(), counter++);
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "rules");
    fs::create_directories(dir_ / "logs");
    std::ofstream(dir_ / "rules" / "miner.eql") << "process where process.name == \"xmrig\"\n";
    std::ofstream(dir_ / "rules" / "pool.eql") << "sequence by host.name with maxspan=1m\n"
                                                  "  [process where process.name == \"curl\"]\n"
                                                  "  [network where destination.port == 3333]\n";
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  void start(const std::vector<std::string>& paths, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {PICKAXE_BINARY,
                                     "watch",
                                     "--from-beginning",
                                     "--rules",
                                     (dir_ / "rules").string(),
                                     "--output",
                                     (dir_ / "alerts.ndjson").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), paths.begin(), paths.end());
    const std::string err = (dir_ / "err.txt").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (file_limit_ > 0) {  // as `ulimit -f`: writes past it fail, as on a full disk
        rlimit limit{file_limit_, file_limit_};
        ::setrlimit(RLIMIT_FSIZE, &limit);
      }
      if (run_as_ > 0 &&
          (::setgroups(0, nullptr) != 0 || ::setgid(run_as_) != 0 || ::setuid(run_as_) != 0))
        ::_exit(126);
      int errfd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (errfd >= 0) ::dup2(errfd, 2);
      int in = ::open("/dev/null", O_RDONLY);
      if (in >= 0) ::dup2(in, 0);
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // The alerts file appears at once: then the follower is running. A
    // restart finds it there already, so wait too until SIGTERM is caught: a
    // stop sent before that would kill watch instead of stopping it.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((!fs::exists(dir_ / "alerts.ndjson") || !catches_sigterm()) && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Whether watch has its SIGTERM handler (or is no longer running).
  bool catches_sigterm() const {
    std::ifstream status(fmt::format("/proc/{}/status", pid_));
    std::string line;
    while (std::getline(status, line)) {
      if (line.starts_with("State:") && line.find('Z') != std::string::npos) return true;
      if (line.starts_with("SigCgt:"))
        return (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
    }
    return true;  // gone
  }
  // SIGTERM: watch flushes and exits 0.
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Waits (at most `limit`) for watch to exit by itself: its exit code, or -2.
  int wait_exit(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -2;
  }
  // What one hunt over `file` with the test's rules (and `more`) writes.
  std::string hunt(const fs::path& file, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {PICKAXE_BINARY,     "hunt",
                                     "--rules",          (dir_ / "rules").string(),
                                     "--detection-time", "2026-01-01T00:00:00Z"};
    args.insert(args.end(), more.begin(), more.end());
    args.push_back(file.string());
    int exit_code = 0;
    std::string err;
    std::string out = pickaxe::testing::run_program(args, exit_code, &err);
    EXPECT_EQ(exit_code, 0) << err;
    return out;
  }
  // Waits (at most `limit`) until the output is `expected`: a restarted
  // watch first cuts what came after its checkpoint, then writes again.
  std::string wait_for_output(const std::string& expected, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    std::string got;
    while ((got = read_text((dir_ / "alerts.ndjson").string())) != expected &&
           Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return got;
  }
  // Waits (at most `limit`) until stderr says `text`; whether it did.
  bool wait_for_err(const std::string& text,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    const auto deadline = Clock::now() + limit;
    while (err().find(text) == std::string::npos && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return err().find(text) != std::string::npos;
  }
  std::string err() const { return read_text((dir_ / "err.txt").string()); }

  // Alert lines written since the last call, each with when it was seen.
  std::vector<std::string> new_alerts() {
    std::string text = read_text((dir_ / "alerts.ndjson").string());
    std::vector<std::string> lines;
    while (true) {
      size_t end = text.find('\n', read_);
      if (end == std::string::npos) break;
      lines.push_back(text.substr(read_, end - read_));
      read_ = end + 1;
    }
    return lines;
  }
  // Waits (at most `limit`) until `count` alerts in all have been written.
  size_t wait_for_alerts(size_t count, std::vector<std::string>& seen,
                         std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = Clock::now() + limit;
    while (seen.size() < count && Clock::now() < deadline) {
      for (std::string& line : new_alerts()) seen.push_back(std::move(line));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return seen.size();
  }

  fs::path dir_;
  pid_t pid_ = 0;
  rlim_t file_limit_ = 0;
  uid_t run_as_ = 0;  // when set, watch runs as this user (and group)
  size_t read_ = 0;
};

// The token among `tokens` whose quoted value the alert holds.
std::string token_of(const std::string& alert, const std::vector<std::string>& tokens) {
  for (const std::string& token : tokens)
    if (alert.find("\"" + token + "\"") != std::string::npos) return token;
  return {};
}

TEST_F(Watch, EveryAlertComesWithinASecondOfItsLine) {
  const fs::path log = dir_ / "logs" / "app.ndjson";
  append(log, "");
  start({log.string()});
  ASSERT_GT(pid_, 0);

  // A reader notes when each alert line appears; the writer when each
  // triggering line was appended.
  std::mutex mutex;
  std::map<std::string, Clock::time_point> written;
  std::vector<std::pair<std::string, Clock::time_point>> alerts;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      for (std::string& line : new_alerts()) {
        std::lock_guard lock(mutex);
        alerts.emplace_back(std::move(line), Clock::now());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::mt19937 random(7);
  std::uniform_int_distribution<int> pause_ms(30, 700);
  std::vector<std::string> tokens;
  auto write = [&](const std::string& line, const std::string& token) {
    append(log, line);
    std::lock_guard lock(mutex);
    written[token] = Clock::now();
  };
  auto burst = [&](int round) {
    for (int i = 0; i < 6; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
      std::string token = fmt::format("m{}-{}", round, i);
      tokens.push_back(token);
      write(miner(token), token);
      if (i % 2 == 0) {  // a sequence: its alerts come with its last event
        std::string sequence = fmt::format("s{}-{}", round, i);
        tokens.push_back(sequence);
        append(log, curl(sequence));
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
        write(pool(sequence), sequence);
      }
    }
  };
  burst(0);
  // An idle gap: the watermark moves with the wall clock, nothing waits for input.
  std::this_thread::sleep_for(std::chrono::seconds(10));
  burst(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  done = true;
  reader.join();
  EXPECT_EQ(stop(), 0) << err();

  std::map<std::string, int> count;
  long slowest = 0;
  for (const auto& [alert, at] : alerts) {
    std::string token = token_of(alert, tokens);
    ASSERT_FALSE(token.empty()) << alert;
    ++count[token];
    const auto delay =
        std::chrono::duration_cast<std::chrono::milliseconds>(at - written.at(token));
    EXPECT_LT(delay.count(), 1000) << token << " alerted " << delay.count() << " ms after its line";
    slowest = std::max<long>(slowest, delay.count());
  }
  std::cout << "slowest alert: " << slowest << " ms after its line\n";
  for (const std::string& token : tokens) {
    // An event alert; a sequence alert with its two building blocks.
    EXPECT_EQ(count[token], token[0] == 'm' ? 1 : 3) << token << "\n" << err();
  }
}

TEST_F(Watch, RotationAndTruncationRaiseEveryAlertOnce) {
  const fs::path log = dir_ / "logs" / "app.log";
  start({(dir_ / "logs" / "app*.log").string()});
  ASSERT_GT(pid_, 0);
  std::vector<std::string> tokens, seen;
  int next = 0;
  auto write_events = [&](int count) {
    for (int i = 0; i < count; ++i) {
      std::string token = fmt::format("r{}", next++);
      tokens.push_back(token);
      append(log, miner(token));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  // A file that appears after the start is read from its beginning.
  write_events(5);
  ASSERT_EQ(wait_for_alerts(5, seen), 5u) << err();
  // Rotation by rename and create: the old name leaves the glob.
  fs::rename(log, dir_ / "logs" / "app.log.1");
  write_events(5);
  ASSERT_EQ(wait_for_alerts(10, seen), 10u) << err();
  // copytruncate: copied away, then cut to nothing and written again.
  fs::copy_file(log, dir_ / "logs" / "app.log.2");
  fs::resize_file(log, 0);
  write_events(5);
  ASSERT_EQ(wait_for_alerts(15, seen), 15u) << err();
  // Cut short in the middle of a stream that goes on: the new lines can
  // outgrow the old length before the follower looks (its first bytes tell).
  write_events(10);
  ASSERT_EQ(wait_for_alerts(25, seen), 25u) << err();
  fs::resize_file(log, 0);
  write_events(30);
  ASSERT_EQ(wait_for_alerts(55, seen), 55u) << err();
  // Nothing comes twice, even given time.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  wait_for_alerts(56, seen, std::chrono::milliseconds(100));
  EXPECT_EQ(stop(), 0) << err();
  std::map<std::string, int> count;
  for (const std::string& alert : seen) ++count[token_of(alert, tokens)];
  for (const std::string& token : tokens) EXPECT_EQ(count[token], 1) << token;
  EXPECT_EQ(seen.size(), tokens.size());
  EXPECT_NE(err().find("cut short or rewritten"), std::string::npos) << err();
}

// Test 3 of issue-style acceptance: kill -9 at random moments, restarts from
// the checkpoint, and the output is that of one uninterrupted hunt.
TEST_F(Watch, KilledTwentyTimesItsOutputIsThatOfOneHunt) {
  PICKAXE_REQUIRE_SHARED("tools/gen_ecs.py");
  if (std::system("python3 --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 is not installed";
  const fs::path source = dir_ / "source.ndjson";
  ASSERT_EQ(std::system(fmt::format("python3 {}/tools/gen_ecs.py --events 200000 --hosts 100 "
                                    "--miners 20 > {}",
                                    pickaxe::testing::shared_dir(), source.string())
                            .c_str()),
            0);
  std::ofstream(dir_ / "rules" / "xmrig.eql")
      << "sequence by host.name with maxspan=10m\n"
         "  [process where process.name : \"xmrig*\"]\n"
         "  [network where destination.port in (3333, 4444, 5555, 14444)]\n";
  // The pack, a sequence; the generator's events are up to 2 s out of order.
  const std::vector<std::string> options = {
      "--rules",          std::string(PICKAXE_SOURCE_DIR) + "/rules",
      "--detection-time", "2026-01-01T00:00:00Z",
      "--max-lateness",   "5s"};
  std::vector<std::string> hunt = {PICKAXE_BINARY, "hunt", "--rules", (dir_ / "rules").string()};
  hunt.insert(hunt.end(), options.begin(), options.end());
  hunt.push_back(source.string());
  int exit_code = 0;
  std::string hunt_err;
  const std::string expected = pickaxe::testing::run_program(hunt, exit_code, &hunt_err);
  ASSERT_EQ(exit_code, 0) << hunt_err;
  ASSERT_GT(std::count(expected.begin(), expected.end(), '\n'), 200) << hunt_err;

  std::vector<std::string> lines;
  {
    std::ifstream in(source);
    for (std::string line; std::getline(in, line);) lines.push_back(line + "\n");
  }
  const fs::path log = dir_ / "logs" / "events.ndjson";
  append(log, "");
  std::vector<std::string> watch_options = options;
  watch_options.insert(watch_options.end(), {"--state-dir", (dir_ / "state").string()});
  start({log.string()}, watch_options);
  // Bursts of lines, appended as a log grows.
  std::atomic<bool> appended{false};
  std::thread appender([&] {
    std::mt19937 random(11);
    std::uniform_int_distribution<size_t> burst(500, 4000);
    std::uniform_int_distribution<int> pause_ms(5, 60);
    for (size_t at = 0; at < lines.size();) {
      std::string text;
      for (size_t end = std::min(lines.size(), at + burst(random)); at < end; ++at)
        text += lines[at];
      append(log, text);
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    }
    appended = true;
  });
  std::mt19937 random(13);
  std::uniform_int_distribution<int> run_ms(20, 600);
  for (int kill = 0; kill < 20; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(random)));
    stop(SIGKILL);
    start({log.string()}, watch_options);
  }
  appender.join();
  // Caught up with the whole input: the output is the hunt's; a while longer
  // shows that nothing more comes.
  wait_for_output(expected, std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(stop(), 0) << err();
  const std::string got = read_text((dir_ / "alerts.ndjson").string());
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'),
            std::count(expected.begin(), expected.end(), '\n'))
      << err();
  EXPECT_TRUE(got == expected) << "the output differs from one hunt's\n" << err();
}

TEST_F(Watch, ADeletedFileIsSaidAndFollowedAgainWhenItComesBack) {
  const fs::path log = dir_ / "logs" / "app.ndjson";
  append(log, miner("d0"));
  start({log.string()});
  std::vector<std::string> seen;
  ASSERT_EQ(wait_for_alerts(1, seen), 1u) << err();
  fs::remove(log);
  // Read on for 5 s after it last grew (its writer may still hold it), then left.
  EXPECT_TRUE(
      wait_for_err(log.string() + ": gone (deleted, or renamed away)", std::chrono::seconds(15)))
      << err();
  append(log, miner("d1"));
  ASSERT_EQ(wait_for_alerts(2, seen), 2u) << err();
  EXPECT_NE(seen[1].find("\"d1\""), std::string::npos);
  EXPECT_EQ(stop(), 0) << err();
}

// Alerts that cannot be written (a full disk, here a file size limit) stop
// watch with exit 1; the checkpoint stays whole, and a run with room goes on
// from it to the output of one hunt.
TEST_F(Watch, AFullOutputStopsItAndARestartGoesOn) {
  const fs::path log = dir_ / "logs" / "app.ndjson";
  std::string events;
  for (int i = 0; i < 400; ++i) events += miner(fmt::format("f{}", i));
  append(log, events);
  const std::vector<std::string> options = {"--state-dir", (dir_ / "state").string(),
                                            "--detection-time", "2026-01-01T00:00:00Z"};
  file_limit_ = 64 * 1024;
  start({log.string()}, options);
  EXPECT_EQ(wait_exit(std::chrono::seconds(20)), 1) << err();
  EXPECT_NE(err().find("cannot write the alerts: File too large"), std::string::npos) << err();
  file_limit_ = 0;
  start({log.string()}, options);
  // max_signals (100 per 5-minute execution) caps them below 400.
  const std::string expected = hunt(log);
  EXPECT_GE(std::count(expected.begin(), expected.end(), '\n'), 100);
  EXPECT_TRUE(wait_for_output(expected, std::chrono::seconds(20)) == expected)
      << "the alerts differ from a hunt's\n"
      << err();
  EXPECT_EQ(stop(), 0) << err();
  EXPECT_TRUE(read_text((dir_ / "alerts.ndjson").string()) == expected)
      << "the alerts differ from a hunt's\n"
      << err();
}

// The same when the checkpoint cannot be written: the one before stays.
TEST_F(Watch, AFullStateFolderStopsItAndARestartGoesOn) {
  fs::create_directories(dir_ / "holding");
  // Partial sequences that never complete: the checkpoint grows, alerts do not.
  std::ofstream(dir_ / "holding" / "held.eql") << "sequence by process.entity_id\n"
                                                  "  [process where process.name == \"curl\"]\n"
                                                  "  [network where destination.port == 1]\n";
  const fs::path log = dir_ / "logs" / "app.ndjson";
  std::string events;
  for (int i = 0; i < 1500; ++i)
    events += fmt::format(
        R"({{"@timestamp":"{}","event":{{"category":["process"],"type":["start"]}},"host":{{"name":"h"}},"process":{{"name":"curl","entity_id":"c{}"}}}})"
        "\n",
        now_iso(), i);
  for (int i = 0; i < 5; ++i) events += miner(fmt::format("g{}", i));
  append(log, events);
  const std::vector<std::string> options = {"--rules",          (dir_ / "holding").string(),
                                            "--state-dir",      (dir_ / "state").string(),
                                            "--detection-time", "2026-01-01T00:00:00Z"};
  file_limit_ = 64 * 1024;
  start({log.string()}, options);
  EXPECT_EQ(wait_exit(std::chrono::seconds(20)), 1) << err();
  EXPECT_NE(err().find("/checkpoint: File too large; watch stops"), std::string::npos) << err();
  EXPECT_FALSE(fs::exists(dir_ / "state" / "checkpoint.tmp"));
  // A line past the last whole checkpoint, as alerts written after it are:
  // the restart cuts it, so the output is a hunt's only once it has run.
  append(dir_ / "alerts.ndjson", "written after the last checkpoint\n");
  file_limit_ = 0;
  start({log.string()}, options);
  const std::string expected = hunt(log, {"--rules", (dir_ / "holding").string()});
  EXPECT_EQ(std::count(expected.begin(), expected.end(), '\n'), 5);
  EXPECT_TRUE(wait_for_output(expected, std::chrono::seconds(20)) == expected)
      << "the alerts differ from a hunt's\n"
      << err();
  EXPECT_EQ(stop(), 0) << err();
  EXPECT_EQ(err().find("--reset-state"), std::string::npos) << err();
  EXPECT_TRUE(read_text((dir_ / "alerts.ndjson").string()) == expected)
      << "the alerts differ from a hunt's\n"
      << err();
}

// SIGHUP reloads the rule files: an unchanged rule keeps its partial
// sequences, a changed or new one runs as it now reads, and rule files with
// errors leave the rules running as they were.
TEST_F(Watch, AReloadKeepsTheStateOfUnchangedRules) {
  const fs::path log = dir_ / "logs" / "app.ndjson";
  append(log, "");
  start({log.string()});
  std::vector<std::string> seen;
  append(log, curl("s1") + miner("m1"));
  ASSERT_EQ(wait_for_alerts(1, seen), 1u) << err();
  std::ofstream(dir_ / "rules" / "miner.eql") << "process where process.name == \"xmrig-2\"\n";
  std::ofstream(dir_ / "rules" / "nc.eql") << "process where process.name == \"nc\"\n";
  ::kill(pid_, SIGHUP);
  ASSERT_TRUE(wait_for_err("pickaxe: reloaded 3 rules; 1 query kept their state")) << err();
  auto nc = [](const std::string& token) {
    return fmt::format(
        R"({{"labels":{{"token":"{}"}},"@timestamp":"{}","event":{{"category":["process"],"type":["start"]}},"host":{{"name":"h"}},"process":{{"name":"nc"}}}})"
        "\n",
        token, now_iso());
  };
  // The sequence begun before the reload completes; the changed rule no
  // longer fires on xmrig; the new one fires.
  append(log, pool("s1") + miner("m2") + nc("n1"));
  ASSERT_EQ(wait_for_alerts(5, seen), 5u) << err();
  std::ofstream(dir_ / "rules" / "broken.eql") << "process where process.name ==\n";
  ::kill(pid_, SIGHUP);
  ASSERT_TRUE(wait_for_err("pickaxe: reload failed")) << err();
  append(log, nc("n2"));
  ASSERT_EQ(wait_for_alerts(6, seen), 6u) << err();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  wait_for_alerts(7, seen, std::chrono::milliseconds(100));
  EXPECT_EQ(stop(), 0) << err();
  std::map<std::string, int> count;
  for (const std::string& alert : seen) ++count[token_of(alert, {"m1", "s1", "m2", "n1", "n2"})];
  EXPECT_EQ(count["m1"], 1);
  EXPECT_EQ(count["s1"], 3);  // the sequence and its two building blocks
  EXPECT_EQ(count["m2"], 0);
  EXPECT_EQ(count["n1"], 1);
  EXPECT_EQ(count["n2"], 1);
  EXPECT_EQ(seen.size(), 6u);
}

// The metrics endpoint, scraped with curl, gives the figures of the summary
// printed at the stop.
TEST_F(Watch, MetricsAreTheSummarysFigures) {
  if (std::system("curl --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  const fs::path events = dir_ / "logs" / "events.ndjson", audit = dir_ / "logs" / "audit.log";
  append(events, "");
  append(audit, "");
  start({events.string(), audit.string()},
        {"--rules", std::string(PICKAXE_SOURCE_DIR) + "/rules", "--metrics-addr", "127.0.0.1:0"});
  const std::string said = "metrics on http://127.0.0.1:";
  ASSERT_TRUE(wait_for_err(said)) << err();
  const std::string started = err();
  const size_t at = started.find(said) + said.size();
  const std::string port = started.substr(at, started.find('/', at) - at);
  append(events,
         read_text(std::string(PICKAXE_SOURCE_DIR) + "/examples/events.ndjson") + "{not json\n");
  append(audit, read_text(std::string(PICKAXE_SOURCE_DIR) + "/examples/audit.log"));
  std::vector<std::string> seen;
  wait_for_alerts(9, seen, std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // released, settled, published
  int exit_code = 0;
  const std::string metrics = pickaxe::testing::run_command(
      fmt::format("curl -s http://127.0.0.1:{}/metrics", port), exit_code);
  ASSERT_EQ(exit_code, 0);
  const std::string health = pickaxe::testing::run_command(
      fmt::format("curl -s -w ' %{{http_code}}' http://127.0.0.1:{}/healthz", port), exit_code);
  EXPECT_EQ(health, "ok\n 200");
  EXPECT_EQ(stop(), 0) << err();
  const std::string summary = err();

  auto value = [&](const std::string& series) -> long {
    const size_t at = metrics.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stol(metrics.substr(at + series.size() + 2));
  };
  long events_total = 0;
  for (const char* source : {"ecs", "cloudtrail", "docker", "auditd", "sysmon"})
    events_total += value(fmt::format("pickaxe_events_total{{source=\"{}\"}}", source));
  long rules = -1, events_read = -1, alerts = -1;
  const size_t line = summary.find("watch: ");
  ASSERT_NE(line, std::string::npos) << summary;
  std::sscanf(summary.c_str() + line, "watch: %ld rules, %ld events", &rules, &events_read);
  const std::string first_line = summary.substr(line, summary.find('\n', line) - line);
  std::sscanf(first_line.c_str() + first_line.rfind(", "), ", %ld alert", &alerts);
  EXPECT_EQ(events_total, events_read) << metrics << summary;
  EXPECT_GT(value("pickaxe_events_total{source=\"auditd\"}"), 0) << metrics;
  long malformed = -1;
  const size_t skipped = summary.find("skipped ");
  ASSERT_NE(skipped, std::string::npos) << summary;
  std::sscanf(summary.c_str() + skipped, "skipped %ld malformed", &malformed);
  EXPECT_EQ(value("pickaxe_events_skipped_total{reason=\"malformed\"}"), malformed) << metrics;
  EXPECT_EQ(malformed, 1);
  // Every rule's count in the summary is its series.
  long alerts_total = 0;
  std::istringstream lines(summary.substr(line));
  std::string text;
  std::getline(lines, text);
  // "  {count:>6}  {rule}" lines, until the next kind of line.
  while (std::getline(lines, text) && text.size() > 10 && std::isdigit(text[7]) &&
         text.substr(8, 2) == "  " && text.find("  ", 10) == std::string::npos) {
    const long count = std::stol(text);
    const std::string rule = text.substr(10);
    EXPECT_EQ(value(fmt::format("pickaxe_alerts_total{{rule=\"{}\"}}", rule)), count) << rule;
    alerts_total += count;
  }
  EXPECT_EQ(alerts_total, alerts) << summary;
  EXPECT_GT(alerts_total, 0);
}

// Raw auditd records of one event that arrive in different writes (a
// partial line among them) make one event, as when read whole.
TEST_F(Watch, AnAuditdEventWrittenInPiecesIsOneEvent) {
  const std::string audit = read_text(std::string(PICKAXE_SOURCE_DIR) + "/examples/audit.log");
  const fs::path whole = dir_ / "whole.log";
  append(whole, audit);
  const std::string expected = hunt(whole, {"--rules", std::string(PICKAXE_SOURCE_DIR) + "/rules"});
  ASSERT_GT(std::count(expected.begin(), expected.end(), '\n'), 0);
  const fs::path log = dir_ / "logs" / "audit.log";
  append(log, "");
  start({log.string()}, {"--rules", std::string(PICKAXE_SOURCE_DIR) + "/rules", "--detection-time",
                         "2026-01-01T00:00:00Z"});
  // Cut mid-line and between the records of the first event.
  for (size_t at = 0; at < audit.size(); at += 150) {
    append(log, audit.substr(at, 150));
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
  }
  EXPECT_TRUE(wait_for_output(expected, std::chrono::seconds(10)) == expected)
      << "the alerts differ from a hunt's over the whole file\n"
      << err();
  EXPECT_EQ(stop(), 0) << err();
}

// stdin ("-") is followed as it comes; its end ends watch.
TEST_F(Watch, StdinIsFollowedUntilItEnds) {
  const std::string command = fmt::format(
      "(cat {0}/examples/events.ndjson; sleep 1) | {1} watch --rules {3} "
      "--rules {0}/rules --detection-time 2026-01-01T00:00:00Z - 2>{2}",
      PICKAXE_SOURCE_DIR, PICKAXE_BINARY, (dir_ / "err.txt").string(), (dir_ / "rules").string());
  const auto began = Clock::now();
  int exit_code = 0;
  const std::string out = pickaxe::testing::run_command(command, exit_code);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
  EXPECT_EQ(exit_code, 0) << err();
  const std::string expected = hunt(std::string(PICKAXE_SOURCE_DIR) + "/examples/events.ndjson",
                                    {"--rules", std::string(PICKAXE_SOURCE_DIR) + "/rules"});
  EXPECT_TRUE(out == expected) << "stdin's alerts differ from a hunt's\n" << err();
  EXPECT_GT(std::count(out.begin(), out.end(), '\n'), 5);
  EXPECT_LT(took.count(), 5000);
}

// A checkpoint of other rules, or a damaged one, is refused with a clear
// error; --reset-state starts afresh.
TEST_F(Watch, ACheckpointOfOtherRulesOrDamagedIsRefused) {
  const fs::path log = dir_ / "logs" / "app.ndjson";
  append(log, miner("c0"));
  const std::vector<std::string> state = {"--state-dir", (dir_ / "state").string()};
  start({log.string()}, state);
  std::vector<std::string> seen;
  ASSERT_EQ(wait_for_alerts(1, seen), 1u) << err();
  EXPECT_EQ(stop(), 0) << err();
  // Another rule set.
  std::ofstream(dir_ / "rules" / "nc.eql") << "process where process.name == \"nc\"\n";
  start({log.string()}, state);
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 1);
  EXPECT_NE(err().find("/state/checkpoint: it was taken with another rule set (rules added, "
                       "removed or changed); --reset-state starts afresh"),
            std::string::npos)
      << err();
  // Damaged.
  fs::remove(dir_ / "rules" / "nc.eql");
  {
    std::string text = read_text((dir_ / "state" / "checkpoint").string());
    text.resize(text.size() / 2);
    std::ofstream(dir_ / "state" / "checkpoint", std::ios::binary) << text;
  }
  start({log.string()}, state);
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 1);
  EXPECT_NE(err().find("/state/checkpoint: "), std::string::npos) << err();
  // Foreign.
  std::ofstream(dir_ / "state" / "checkpoint") << "{\"not\": \"a checkpoint\"}\n";
  start({log.string()}, state);
  EXPECT_EQ(wait_exit(std::chrono::seconds(10)), 1);
  EXPECT_NE(err().find("/state/checkpoint: not a pickaxe watch checkpoint"), std::string::npos)
      << err();
  // Afresh: the file is read again from its start.
  std::vector<std::string> reset = state;
  reset.push_back("--reset-state");
  start({log.string()}, reset);
  ASSERT_EQ(wait_for_alerts(2, seen), 2u) << err();
  EXPECT_EQ(stop(), 0) << err();
}

// A file watch cannot open is said once, by name and reason, and the run goes on.
TEST_F(Watch, AnUnreadableFileIsSaidOnce) {
  const fs::path locked = dir_ / "logs" / "locked.ndjson", open = dir_ / "logs" / "open.ndjson";
  append(locked, miner("u0"));
  append(open, "");
  fs::permissions(locked, fs::perms::none);
  // Root reads every file: watch then runs as nobody, who may write its alerts.
  if (::geteuid() == 0) {
    run_as_ = 65534;
    fs::permissions(dir_, fs::perms::all);
    append(dir_ / "alerts.ndjson", "");
    fs::permissions(dir_ / "alerts.ndjson", fs::perms::all);
  }
  start({locked.string(), open.string()});
  append(open, miner("u1"));
  std::vector<std::string> seen;
  ASSERT_EQ(wait_for_alerts(1, seen), 1u) << err();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(stop(), 0) << err();
  const std::string text = err();
  const std::string said = locked.string() + ": cannot open: Permission denied";
  EXPECT_NE(text.find(said), std::string::npos) << text;
  EXPECT_EQ(text.find(said), text.rfind(said)) << text;
}

// A Sigma correlation's open window is in the checkpoint: two hits before a
// kill -9, the third after the restart, and the correlation fires as in one
// hunt over all three.
TEST_F(Watch, ACorrelationWindowOutlivesARestart) {
  fs::create_directories(dir_ / "sigma");
  std::ofstream(dir_ / "sigma" / "shells.yml")
      << "title: Three shells\nid: 00000000-0000-4000-8000-000000000301\nlevel: high\n"
         "correlation:\n  type: event_count\n  rules: [shell]\n  group-by: [User]\n"
         "  timespan: 10m\n  condition: {gte: 3}\n"
         "---\ntitle: Shell\nname: shell\nid: 00000000-0000-4000-8000-000000000302\n"
         "logsource: {product: linux, category: process_creation}\n"
         "detection:\n  sel: {Image|endswith: /bash}\n  condition: sel\n";
  auto shell = [] {
    return fmt::format(
        R"({{"@timestamp":"{}","event":{{"category":["process"],"type":["start"]}},"host":{{"name":"h1","os":{{"type":"linux"}}}},"user":{{"name":"bob"}},"process":{{"executable":"/bin/bash"}}}})"
        "\n",
        now_iso());
  };
  const fs::path log = dir_ / "logs" / "app.ndjson";
  append(log, "");
  const std::vector<std::string> options = {"--rules",          (dir_ / "sigma").string(),
                                            "--state-dir",      (dir_ / "state").string(),
                                            "--detection-time", "2026-01-01T00:00:00Z"};
  start({log.string()}, options);
  append(log, shell() + shell());
  // Past a periodic checkpoint (every 2 s) after the two were read.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  stop(SIGKILL);
  start({log.string()}, options);
  append(log, shell());
  const std::string expected = hunt(log, {"--rules", (dir_ / "sigma").string()});
  ASSERT_NE(expected.find("Three shells"), std::string::npos) << expected.substr(0, 300);
  EXPECT_TRUE(wait_for_output(expected, std::chrono::seconds(10)) == expected)
      << "the alerts differ from a hunt's\n"
      << err();
  EXPECT_EQ(stop(), 0) << err();
}

// Following a folder, logrotate's renames stay inside it: a rotated file goes
// on under its new name and is not read again; compressed ones are left out.
TEST_F(Watch, RotationInsideAFollowedFolderReadsNothingTwice) {
  const fs::path logs = dir_ / "logs", log = logs / "app.log";
  append(log, "");
  start({logs.string()});
  std::vector<std::string> tokens, seen;
  auto write = [&](int from, int count) {
    for (int i = from; i < from + count; ++i) {
      tokens.push_back(fmt::format("k{}", i));
      append(log, miner(tokens.back()));
    }
  };
  write(0, 3);
  ASSERT_EQ(wait_for_alerts(3, seen), 3u) << err();
  fs::rename(log, logs / "app.log.1");
  append(logs / "app.log.1", miner("k3"));  // its writer, before it reopens
  tokens.push_back("k3");
  write(4, 3);
  ASSERT_EQ(wait_for_alerts(7, seen), 7u) << err();
  fs::rename(logs / "app.log.1", logs / "app.log.2");
  append(logs / "app.log.2.gz", miner("z0"));  // compressed: not followed
  fs::rename(log, logs / "app.log.1");
  write(7, 2);
  ASSERT_EQ(wait_for_alerts(9, seen), 9u) << err();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  wait_for_alerts(10, seen, std::chrono::milliseconds(100));
  EXPECT_EQ(stop(), 0) << err();
  std::map<std::string, int> count;
  for (const std::string& alert : seen) ++count[token_of(alert, tokens)];
  for (const std::string& token : tokens) EXPECT_EQ(count[token], 1) << token;
  EXPECT_EQ(seen.size(), tokens.size());
}

// A checkpoint taken after a reload that added a field: the restarted watch
// numbers its fields as the reloaded one did, so the events it restores read
// right (here: the suppression group of a sequence begun before the kill).
TEST_F(Watch, ACheckpointAfterAReloadRestoresItsEventsFields) {
  const fs::path log = dir_ / "logs" / "app.ndjson";
  append(log, "");
  const std::vector<std::string> options = {"--state-dir",       (dir_ / "state").string(),
                                            "--suppress-by",     "host.name",
                                            "--suppress-window", "1h"};
  start({log.string()}, options);
  append(log, curl("s1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  std::ofstream(dir_ / "rules" / "a_user.eql") << "process where user.name == \"mallory\"\n";
  ::kill(pid_, SIGHUP);
  ASSERT_TRUE(wait_for_err("reloaded 3 rules")) << err();
  stop(SIGKILL);
  start({log.string()}, options);
  // The sequence completes; a second one on the same host is suppressed.
  append(log, pool("s1"));
  std::vector<std::string> seen;
  ASSERT_EQ(wait_for_alerts(3, seen), 3u) << err();
  append(log, curl("s1") + pool("s1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  wait_for_alerts(6, seen, std::chrono::milliseconds(100));
  EXPECT_EQ(stop(), 0) << err();
  EXPECT_EQ(seen.size(), 3u) << err();
}

// An auditd event whose records are cut by a stop and restart is whole: the
// checkpoint holds the decoder's open event.
TEST_F(Watch, AnAuditdEventCutByARestartIsWhole) {
  const std::string audit = read_text(std::string(PICKAXE_SOURCE_DIR) + "/examples/audit.log");
  const fs::path log = dir_ / "logs" / "audit.log";
  append(log, audit);
  const std::string rules = std::string(PICKAXE_SOURCE_DIR) + "/rules";
  const std::string expected = hunt(log, {"--rules", rules});
  fs::remove(log);
  append(log, "");
  const std::vector<std::string> options = {"--rules",          rules,
                                            "--state-dir",      (dir_ / "state").string(),
                                            "--detection-time", "2026-01-01T00:00:00Z"};
  start({log.string()}, options);
  // The first event's SYSCALL and EXECVE, then a stop before it is whole.
  size_t cut = 0;
  for (int line = 0; line < 2; ++line) cut = audit.find('\n', cut) + 1;
  append(log, audit.substr(0, cut));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(stop(), 0) << err();
  start({log.string()}, options);
  append(log, audit.substr(cut));
  EXPECT_TRUE(wait_for_output(expected, std::chrono::seconds(10)) == expected)
      << "the alerts differ from a hunt's\n"
      << err();
  EXPECT_EQ(stop(), 0) << err();
  EXPECT_EQ(err().find("without"), std::string::npos) << err();
}

// copytruncate into a followed folder: the copy is not read again (it is
// known by its first bytes), during a run and across a stop.
TEST_F(Watch, CopytruncateInsideAFollowedFolderReadsNothingTwice) {
  const fs::path logs = dir_ / "logs", log = logs / "app.log";
  append(log, "");
  start({logs.string()}, {"--state-dir", (dir_ / "state").string()});
  std::vector<std::string> tokens, seen;
  auto write = [&](int from, int count) {
    for (int i = from; i < from + count; ++i) {
      tokens.push_back(fmt::format("t{}", i));
      append(log, miner(tokens.back()));
    }
  };
  write(0, 3);
  ASSERT_EQ(wait_for_alerts(3, seen), 3u) << err();
  fs::copy_file(log, logs / "app.log.1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the copy is seen first
  fs::resize_file(log, 0);
  write(3, 2);
  ASSERT_EQ(wait_for_alerts(5, seen), 5u) << err();
  // Stopped: lines come, the file is copied and cut, more come.
  EXPECT_EQ(stop(), 0) << err();
  write(5, 2);
  fs::copy_file(log, logs / "app.log.2");
  fs::resize_file(log, 0);
  write(7, 1);
  start({logs.string()}, {"--state-dir", (dir_ / "state").string()});
  ASSERT_EQ(wait_for_alerts(8, seen), 8u) << err();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  wait_for_alerts(9, seen, std::chrono::milliseconds(100));
  EXPECT_EQ(stop(), 0) << err();
  std::map<std::string, int> count;
  for (const std::string& alert : seen) ++count[token_of(alert, tokens)];
  for (const std::string& token : tokens) EXPECT_EQ(count[token], 1) << token;
  EXPECT_EQ(seen.size(), tokens.size()) << err();
}

}  // namespace
