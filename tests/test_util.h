// Helpers shared by the unit tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "diag/diagnostic.h"
#include "eql/functions.h"
#include "eql/parser.h"
#include "eql/printer.h"

namespace pickaxe::testing {

struct Parsed {
  std::shared_ptr<SourceFile> source;
  Diagnostics diagnostics;
  eql::QuerySet set;
  bool ok() const { return !diagnostics.has_errors(); }
  const eql::Query& query() const { return set.alternatives.at(0); }
  const eql::Expr& condition() const { return *query().event.condition; }
  bool has_code(std::string_view code) const {
    for (const auto& d : diagnostics.items()) {
      if (d.code == code) return true;
    }
    return false;
  }
  std::string messages() const {
    std::string out;
    for (const auto& d : diagnostics.items()) out += render_text(d);
    return out;
  }
};

inline Parsed parse(std::string text, bool verify = true) {
  Parsed parsed;
  parsed.source = std::make_shared<SourceFile>("test.eql", std::move(text));
  parsed.diagnostics = Diagnostics(parsed.source);
  parsed.set = eql::parse_query_set(*parsed.source, parsed.diagnostics);
  if (verify && !parsed.diagnostics.has_errors()) eql::verify(parsed.set, parsed.diagnostics);
  return parsed;
}

inline std::string shared_dir() {
  return PICKAXE_SHARED_DIR;
}

// Skips the current test, saying why, when ../shared is not there.
#define PICKAXE_REQUIRE_SHARED(relative)                                                   \
  do {                                                                                     \
    if (!std::filesystem::exists(::pickaxe::testing::shared_dir() + "/" + (relative)))     \
      GTEST_SKIP() << "shared data not found: " << ::pickaxe::testing::shared_dir() << "/" \
                   << (relative) << " (tests that read ../shared skip without it)";        \
  } while (0)

// `count` process events a second apart, one line each: in `percent_with_name`
// of every hundred, process.name is "xmrig"; in the others, "bash".
inline std::string xmrig_events(int count, int percent_with_name) {
  std::string input;
  for (int i = 0; i < count; ++i) {
    input += R"({"@timestamp":)" + std::to_string(1'700'000'000'000 + int64_t{i} * 1000) +
             R"(,"event":{"category":"process"},"process":{"name":")" +
             (i % 100 < percent_with_name ? "xmrig" : "bash") + "\"}}\n";
  }
  return input;
}

// The scan rules of the pack (rules/t1204_003/scan/*.toml), which load with it.
inline size_t scan_rule_count() {
  size_t count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(PICKAXE_SOURCE_DIR) + "/rules/t1204_003/scan", error))
    count += entry.path().extension() == ".toml";
  return count;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Parses, prints and parses again; returns an empty string on success.
// The string at a dotted path through nested objects (other values as
// minified JSON), or "" when absent.
inline std::string value_at(simdjson::dom::element element, std::string_view path) {
  while (!path.empty()) {
    size_t dot = path.find('.');
    simdjson::dom::element next;
    if (!element.is_object() || element[path.substr(0, dot)].get(next) != simdjson::SUCCESS)
      return "";
    element = next;
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  std::string_view text;
  if (element.get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  return simdjson::minify(element);
}

// Calls `on_line(line, number)` for each line of `text`, numbered from 1.
template <typename OnLine>
void for_each_line(std::string_view text, OnLine on_line) {
  uint64_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    on_line(text.substr(start, end - start), ++number);
    start = end + 1;
  }
}

inline std::string round_trip_failure(const eql::QuerySet& set) {
  std::string printed = eql::print(set);
  Parsed again = parse(printed, false);
  if (!again.ok()) return "printed text does not parse:\n" + printed + "\n" + again.messages();
  if (!(again.set == set)) return "AST differs after round trip:\n" + printed;
  return {};
}

// Runs a shell command; returns its stdout and sets its exit code (-1 when it
// did not exit normally).
inline std::string run_command(const std::string& command, int& exit_code) {
  std::string out;
  exit_code = -1;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int status = pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Runs a program with these arguments (no shell: nothing needs quoting), with
// stdin from `stdin_path` (or /dev/null). Returns its stdout; its stderr goes
// to `err` when given. `exit_code` is -1 when it did not exit normally.
inline std::string run_program(const std::vector<std::string>& args, int& exit_code,
                               std::string* err = nullptr, const std::string& stdin_path = "") {
  exit_code = -1;
  const std::string err_path =
      (std::filesystem::temp_directory_path() / ("pickaxe-stderr-" + std::to_string(::getpid())))
          .string();
  int out_pipe[2];
  if (::pipe(out_pipe) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out_pipe[0]);
    ::dup2(out_pipe[1], 1);
    int in = ::open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    int errfd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (errfd >= 0) ::dup2(errfd, 2);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  std::string out;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (err) *err = read_text(err_path);
  std::filesystem::remove(err_path);
  return out;
}

// The counts of `pickaxe hunt`'s summary line ("hunt: 9 rules, 5 events in
// ..., 5 alerts"); -1 each when stderr has none.
struct HuntSummary {
  long rules = -1, events = -1, alerts = -1;
};
inline HuntSummary hunt_summary(const std::string& err) {
  HuntSummary summary;
  size_t at = err.find("hunt: ");
  if (at == std::string::npos) return summary;
  std::string line = err.substr(at, err.find('\n', at) - at);
  std::sscanf(line.c_str(), "hunt: %ld rule%*[s], %ld events", &summary.rules, &summary.events);
  size_t comma = line.rfind(", ");
  if (comma != std::string::npos) std::sscanf(line.c_str() + comma, ", %ld alert", &summary.alerts);
  return summary;
}

// A hunt that ran its rules over its events and raised nothing: exit code
// 0, rules loaded, events read, and a summary of 0 alerts (so that a rule
// that failed to load, or a crash, is not taken for a quiet hunt).
inline ::testing::AssertionResult quiet_hunt(int exit_code, const std::string& out,
                                             const std::string& err) {
  HuntSummary summary = hunt_summary(err);
  if (exit_code != 0)
    return ::testing::AssertionFailure() << "exit code " << exit_code << "\n" << err;
  if (summary.rules <= 0 || summary.events <= 0)
    return ::testing::AssertionFailure() << "no rules or no events in the summary\n" << err;
  if (summary.alerts != 0 || !out.empty())
    return ::testing::AssertionFailure() << summary.alerts << " alerts\n" << out << err;
  return ::testing::AssertionSuccess();
}

// Elasticsearch's test_extra.toml writes bare `null` in join_keys arrays, which is not TOML.
inline std::string lenient_toml(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("join_keys")) {
      for (size_t pos = 0; (pos = line.find("null", pos)) != std::string::npos;) {
        bool quoted = pos > 0 && line[pos - 1] == '"';
        if (!quoted) line.replace(pos, 4, "\"null\"");
        pos += quoted ? 4 : 6;
      }
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace pickaxe::testing
