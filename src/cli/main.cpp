// pickaxe: runs Elastic Security EQL detection rules over security telemetry.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <hs/hs.h>
#include <simdjson.h>
#include <toml++/toml.h>
#include <zlib.h>
#include <zstd.h>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/git_commit.h"
#include "ingest/compressed.h"
#include "ingest/fd_input.h"
#include "scan/yara_set.h"
#include "util/signals.h"
#include "util/strings.h"

namespace pickaxe::cli {
bool stdout_is_terminal() {
  return isatty(STDOUT_FILENO) == 1;
}

std::vector<std::string> technique_ids(const Rule& rule) {
  std::vector<std::string> ids;
  for (const Threat& threat : rule.threats)
    for (const ThreatTechnique& technique : threat.techniques) {
      if (technique.subtechniques.empty()) ids.push_back(technique.id);
      for (const ThreatTechnique& sub : technique.subtechniques) ids.push_back(sub.id);
    }
  if (!ids.empty()) return ids;
  for (const std::string& tag : rule.tags) {
    if (!tag.starts_with("attack.t") || tag.size() < 12 ||
        !std::isdigit(static_cast<unsigned char>(tag[8])))
      continue;
    std::string id = tag.substr(7);
    std::transform(id.begin(), id.end(), id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    ids.push_back(id);
  }
  return ids;
}

std::string bundled_dir(const std::string& name, const std::string& fallback) {
  std::error_code error;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    // Installed (PREFIX/bin/pickaxe, PREFIX/share/pickaxe/NAME), or a build
    // folder beside the sources.
    const std::filesystem::path bin = exe.parent_path();
    for (auto candidate :
         {bin.parent_path() / "share" / "pickaxe" / name, bin.parent_path() / name, bin / name})
      if (std::filesystem::is_directory(candidate, error)) return candidate.string();
  }
  return fallback;
}

std::string bundled_pack_dir() {
  std::string rules = bundled_dir("rules", PICKAXE_RULES_DIR);
  std::error_code error;
  if (!std::filesystem::is_directory(rules + "/t1204_003", error)) rules = PICKAXE_RULES_DIR;
  return rules + "/t1204_003";
}

std::vector<std::string> runtime_pack_paths() {
  const std::string pack = bundled_pack_dir();
  std::vector<std::string> paths;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(pack, error))
    if (entry.path().filename() != "scan") paths.push_back(entry.path().string());
  std::sort(paths.begin(), paths.end());
  if (error || paths.empty()) paths = {pack};
  return paths;
}

void add_sigma_mapping_option(CLI::App& command, std::string& path) {
  command.add_option("--sigma-mapping", path,
                     "A Sigma logsource and field mapping (YAML) tried before the built-in one; "
                     "`pickaxe convert --print-mapping` shows the shape");
}

std::optional<const sigma::Mapping*> load_sigma_mapping(const std::string& path) {
  if (path.empty()) return nullptr;
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {
    std::cerr << "pickaxe: " << path << ": cannot read the Sigma mapping\n";
    return std::nullopt;
  }
  auto source = std::make_shared<SourceFile>(path, std::move(text));
  static sigma::Mapping mapping;  // the built-in table, with the file in front
  Diagnostics diagnostics(source);
  if (!mapping.add_file(source, diagnostics)) {
    for (const Diagnostic& d : diagnostics.items()) std::cerr << render_text(d);
    return std::nullopt;
  }
  return &mapping;
}

bool report_empty_inputs(const std::vector<std::string>& names, bool allow_empty) {
  if (allow_empty) return false;
  for (const std::string& name : names)
    std::cerr << fmt::format(
        "pickaxe: {}: no event read: the input is empty or in no format pickaxe reads (NDJSON, "
        "JSON, CloudTrail, auditd, Sysmon syslog, Docker events); --allow-empty accepts this\n",
        name);
  return !names.empty();
}

std::string describe_problem(const InputProblem& problem) {
  // A message quoting input is cut: a line of hundreds of KB is no help.
  constexpr size_t kLongest = 400;
  std::string_view message = problem.message;
  std::string cut;
  if (message.size() > kLongest) {
    cut = fmt::format("{}... ({} bytes in all)", message.substr(0, kLongest), message.size());
    message = cut;
  }
  if (problem.line == 0) return fmt::format("pickaxe: {}: {}\n", problem.file, message);
  return fmt::format("pickaxe: {}:{}: {}\n", problem.file, problem.line, message);
}

bool load_mappings(const std::vector<std::string>& paths, Schema& schema) {
  bool ok = true;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) {
      std::cerr << fmt::format("pickaxe: {}: cannot read the mapping file ({})\n", path,
                               std::strerror(errno));
      ok = false;
      continue;
    }
    if (std::string error = schema.load_mapping(text); !error.empty()) {
      std::cerr << fmt::format("pickaxe: {}: invalid mapping: {}\n", path, error);
      ok = false;
    }
  }
  return ok;
}

void add_stream_flags(CLI::App& command, StreamFlags& flags, const std::string& quiet_help) {
  command
      .add_option("--mapping", flags.mappings,
                  "Elasticsearch index mapping (JSON): field types, date formats, aliases, "
                  "null_value, dynamic; repeatable (indices searched together)")
      ->allow_extra_args(false);
  command
      .add_option("--source", flags.source,
                  "How to read input: auto (detected per file and per record), ecs, cloudtrail, "
                  "docker, auditd, sysmon")
      ->check(CLI::IsMember({"auto", "ecs", "cloudtrail", "docker", "auditd", "sysmon"}))
      ->default_str("auto");
  command
      .add_option("--max-lateness", flags.max_lateness,
                  "How far behind the newest event an event may arrive and still be put in order "
                  "(0, 30s, 5m, unbounded)")
      ->default_str("5m");
  command
      .add_option("--max-sequence-state", flags.max_sequence_state,
                  "Most partial sequences (and incomplete sample keys) per query; beyond it the "
                  "oldest tenth are dropped and counted")
      ->check(CLI::PositiveNumber)
      ->default_str("1000000");
  command
      .add_option("--max-buffer-bytes", flags.max_buffer_bytes,
                  "Memory the reorder buffer may hold (events' text and values, estimated); past "
                  "it, the earliest events go on early, counted")
      ->check(CLI::PositiveNumber)
      ->default_str("268435456");
  command
      .add_option("--max-line-bytes", flags.max_line_bytes,
                  "Longer input lines are reported and skipped")
      ->check(CLI::PositiveNumber)
      ->default_str("4194304");
  command.add_flag("--no-prefilter", flags.no_prefilter,
                   "Parse and check every line, also those holding none of the literals the "
                   "rules need");
  command.add_flag("--strict", flags.strict,
                   "Exit 1 when input was skipped, arrived too late, or state overflowed (checks "
                   "every line: implies --no-prefilter)");
  command.add_flag("-q,--quiet", flags.quiet, quiet_help);
  command.add_flag("--allow-empty", flags.allow_empty,
                   "A file that yields no event (empty, or in no format pickaxe reads) is no "
                   "error");
}

std::optional<StreamOptions> stream_options_of(const StreamFlags& flags) {
  std::optional<int64_t> lateness = parse_duration(flags.max_lateness);
  if (!lateness) {
    std::cerr << fmt::format("pickaxe: --max-lateness: '{}' is not a duration (e.g. 30s, 5m, 0)\n",
                             flags.max_lateness);
    return std::nullopt;
  }
  StreamOptions options;
  options.max_lateness = *lateness;
  options.source = *source_kind_from_name(flags.source);
  options.reader.max_line_bytes = flags.max_line_bytes;
  options.max_buffer_bytes = flags.max_buffer_bytes;
  options.prefilter = !flags.no_prefilter && !flags.strict;
  return options;
}

std::optional<LoadResult> load_rules_or_report(const std::vector<std::string>& paths,
                                               std::string_view command, bool skip_invalid,
                                               const sigma::Mapping* sigma_mapping,
                                               size_t threads) {
  LoadResult loaded = load_rules(paths, sigma_mapping, threads);
  bool errors = false;
  size_t sigma_skipped = 0;
  for (const Diagnostics& file : loaded.file_diagnostics) {
    for (const Diagnostic& d : file.items()) {
      if (d.severity == Severity::Error) std::cerr << render_text(d);
      if (d.code == "sigma-skipped") ++sigma_skipped;
    }
    errors = errors || file.has_errors();
  }
  if (sigma_skipped > 0)
    std::cerr << fmt::format(
        "pickaxe: {}: {} Sigma rules skipped: no logsource mapping, or a correlation "
        "(`pickaxe lint` names each and why)\n",
        command, sigma_skipped);
  for (const Rule& rule : loaded.rules) {
    if (rule.loaded()) continue;
    for (const Diagnostic& d : rule.diagnostics.items())
      if (d.severity == Severity::Error) std::cerr << render_text(d);
    errors = true;
  }
  if (!errors) return loaded;
  if (skip_invalid) {
    const size_t rules =
        std::erase_if(loaded.rules, [](const Rule& rule) { return !rule.loaded(); });
    const size_t files =
        std::count_if(loaded.file_diagnostics.begin(), loaded.file_diagnostics.end(),
                      [](const Diagnostics& file) { return file.has_errors(); });
    auto count = [](size_t n, const char* one, const char* many) {
      return fmt::format("{} {}", n, n == 1 ? one : many);
    };
    std::string left_out = count(rules, "rule with errors", "rules with errors");
    if (files > 0)
      left_out +=
          " and " + count(files, "file that could not be loaded", "files that could not be loaded");
    std::cerr << fmt::format("pickaxe: {}: {} left out (--skip-invalid)\n", command, left_out);
    return loaded;
  }
  std::cerr << fmt::format(
      "pickaxe: {}: some rules have errors (see above); run `pickaxe lint` on them\n", command);
  return std::nullopt;
}

std::string describe_sample_disk(const EngineStats& stats) {
  std::vector<std::string> notes;
  if (stats.sample_spill_failures > 0)
    notes.push_back(fmt::format(
        "sample keys that could not go to disk, kept in memory from then on ({}; set TMPDIR to a "
        "folder with room): {} {}",
        stats.sample_spill_error, stats.sample_spill_failures,
        stats.sample_spill_failures == 1 ? "query" : "queries"));
  if (stats.sample_read_failures > 0)
    notes.push_back(fmt::format("sample keys lost ({}; counted as dropped): {} {}",
                                stats.sample_read_error, stats.sample_read_failures,
                                stats.sample_read_failures == 1 ? "query" : "queries"));
  if (notes.empty()) return "";
  return fmt::format("{}\n", fmt::join(notes, "; "));
}

std::string describe_source_notes(const StreamStats& stats) {
  std::vector<std::string> notes;
  if (stats.prefiltered > 0)
    notes.push_back(fmt::format("events not parsed, holding none of the literals a query needs: {}",
                                stats.prefiltered));
  // (Said for 64 KB of input or more: on a few sample lines it would be noise.)
  if (stats.unscanned_inputs > 0 && stats.bytes >= 64 * 1024)
    notes.push_back(fmt::format(
        "inputs whose every line was parsed, too few of their first lines holding none of the "
        "literals for the prefilter to pay: {}",
        stats.unscanned_inputs));
  if (stats.flawed_records > 0)
    notes.push_back(fmt::format("records kept with a value as written (bad hex, cut short): {}",
                                stats.flawed_records));
  if (stats.without_eoe > 0)
    notes.push_back(fmt::format("auditd events without their EOE record: {}", stats.without_eoe));
  if (stats.without_event > 0)
    notes.push_back(fmt::format("Sysmon syslog lines without an event: {}", stats.without_event));
  if (stats.held_ahead > 0)
    notes.push_back(fmt::format(
        "events dated over an hour ahead of the stream, held apart until its time caught up: {}",
        stats.held_ahead));
  if (stats.seconds_like > 0)
    notes.push_back(fmt::format(
        "events dated 1970-01-02 to 1973-03-03, as epoch seconds read as milliseconds would be "
        "(a mapping with \"format\": \"epoch_second\" reads seconds): {}",
        stats.seconds_like));
  if (stats.released_early > 0)
    notes.push_back(fmt::format(
        "events let out of the full reorder buffer before their time (--max-buffer-bytes): {}",
        stats.released_early));
  if (stats.spool_failures > 0)
    notes.push_back(fmt::format(
        "documents of held events kept in memory, the spool could not take them ({}; set TMPDIR "
        "to a folder with room): {}",
        stats.spool_error, stats.spool_failures));
  if (notes.empty()) return "";
  return fmt::format("{}\n", fmt::join(notes, "; "));
}

namespace {

// What a folder holds that is no log: documents and rule files.
bool document_or_rule_name(const std::filesystem::path& path) {
  static const std::vector<std::string> kExtensions{
      ".md",  ".rst", ".toml", ".yml", ".yaml", ".eql", ".html", ".pdf", ".py", ".sh",
      ".cfg", ".ini", ".conf", ".png", ".jpg",  ".svg", ".tar",  ".zip", ".xml"};
  const std::string extension = to_lower(path.extension().string());
  if (std::find(kExtensions.begin(), kExtensions.end(), extension) != kExtensions.end())
    return true;
  std::string stem = path.stem().string();
  for (const char* name : {"README", "LICENSE", "LICENCE", "NOTICE", "CHANGELOG", "Makefile"})
    if (stem == name) return true;
  return false;
}

// A file of a folder with no log extension: taken when its first line
// reads as one of the formats pickaxe decodes (JSON, auditd, syslog).
bool looks_like_log(const std::filesystem::path& path) {
  const std::string extension = to_lower(path.extension().string());
  for (const char* known : {".ndjson", ".jsonl", ".json", ".log", ".gz", ".zst", ".audit"})
    if (extension == known) return true;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return true;  // unreadable: said when it is read
  char head[512];
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n <= 0) return true;  // empty: said when it is read
  std::string_view text(head, static_cast<size_t>(n));
  if (compression_of_bytes(text) != Compression::None) return true;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return true;
  text.remove_prefix(first);
  if (text.starts_with("{") || text.starts_with("[") || text.starts_with("type=") ||
      text.starts_with("node=") || text.starts_with("<"))
    return true;
  // syslog: "Nov  1 10:00:03 host ..." or an ISO date.
  for (const char* month : {"Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ",
                            "Oct ", "Nov ", "Dec "})
    if (text.starts_with(month)) return true;
  return text.size() >= 10 && std::isdigit(static_cast<unsigned char>(text[0])) && text[4] == '-' &&
         text[7] == '-';
}

// The file's first 4 KiB hold a NUL byte (and it is not compressed).
bool binary_file(const std::string& path) {
  std::error_code kind;
  if (!std::filesystem::is_regular_file(path, kind)) return false;  // a FIFO is not probed
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  char head[4096];
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n <= 0) return false;
  std::string_view text(head, static_cast<size_t>(n));
  return compression_of_bytes(text) == Compression::None &&
         text.find('\0') != std::string_view::npos;
}

void hint_on_terminal_stdin() {
  if (isatty(STDIN_FILENO) == 1)
    std::cerr << "pickaxe: reading events from the terminal (stdin): paste or type them, end with "
                 "Ctrl-D; or name files to read\n";
}

}  // namespace

bool read_inputs(const std::vector<std::string>& files,
                 const std::function<void(std::istream&, const std::string&)>& read,
                 const std::function<bool()>& done,
                 const std::function<bool(const std::string&)>& read_file,
                 const std::function<void()>& before_wait) {
  bool readable = true;
  // A folder stands for the files under it, in path order; names starting
  // with a dot are passed over.
  std::vector<std::string> inputs;
  for (const std::string& file : files.empty() ? std::vector<std::string>{"-"} : files) {
    std::error_code error;
    if (file == "-" || !std::filesystem::is_directory(file, error)) {
      inputs.push_back(file);
      continue;
    }
    std::vector<std::string> found, passed_over;
    // Folder by folder, so that one that cannot be read is reported and the
    // others are still read.
    std::vector<std::filesystem::path> folders{file};
    while (!folders.empty()) {
      std::filesystem::path folder = std::move(folders.back());
      folders.pop_back();
      std::error_code list_error;
      std::filesystem::directory_iterator it(folder, list_error), end;
      for (; !list_error && it != end; it.increment(list_error)) {
        if (it->path().filename().string().starts_with(".")) continue;
        // An entry that cannot be looked at (a dangling link) is not a file.
        std::error_code entry_error;
        if (it->is_directory(entry_error))
          folders.push_back(it->path());
        else if (it->is_regular_file(entry_error)) {
          // Documents, rule files and binaries beside the logs are passed over.
          if (document_or_rule_name(it->path()) || binary_file(it->path().string()) ||
              !looks_like_log(it->path()))
            passed_over.push_back(it->path().lexically_relative(file).string());
          else
            found.push_back(it->path().string());
        }
      }
      if (list_error) {
        std::cerr << "pickaxe: " << folder.string()
                  << ": cannot read the folder: " << list_error.message() << "\n";
        readable = false;
      }
    }
    if (!passed_over.empty()) {
      std::sort(passed_over.begin(), passed_over.end());
      const size_t shown = std::min<size_t>(passed_over.size(), 5);
      std::cerr << fmt::format(
          "pickaxe: {}: {} passed over, not logs (documents, rule files, binaries, lists) ({}{}); "
          "name a file to read it anyway\n",
          file, passed_over.size() == 1 ? "1 file" : fmt::format("{} files", passed_over.size()),
          fmt::join(passed_over.begin(), passed_over.begin() + static_cast<long>(shown), ", "),
          passed_over.size() > shown ? ", ..." : "");
    }
    if (found.empty()) {
      std::cerr << "pickaxe: " << file << ": the folder holds no log files\n";
      readable = false;
    }
    std::sort(found.begin(), found.end());
    inputs.insert(inputs.end(), found.begin(), found.end());
  }
  for (const std::string& file : inputs) {
    if (done() || stop_requested()) break;
    if (file == "-") {
      hint_on_terminal_stdin();
      FdInputBuffer buffer(STDIN_FILENO, before_wait);
      // gzip or zstd piped in, told by its first bytes.
      std::string_view head = buffer.peek_head(1);
      if (head == "\x1f" || head == "\x28") head = buffer.peek_head(head == "\x1f" ? 2 : 4);
      if (Compression compression = compression_of_bytes(head); compression != Compression::None) {
        DecompressingBuffer decompressed(buffer, compression);
        std::istream in(&decompressed);
        read(in, "<stdin>");
        if (!decompressed.ok()) {
          std::cerr << "pickaxe: <stdin>: " << decompressed.error() << "\n";
          readable = false;
        }
      } else {
        std::istream in(&buffer);
        read(in, "<stdin>");
      }
      if (!buffer.error().empty()) {
        std::cerr << "pickaxe: <stdin>: cannot read: " << buffer.error() << "\n";
        readable = false;
      }
      continue;
    }
    if (Compression compression = compression_of_file(file); compression != Compression::None) {
      // Decompressed as it is read; when the archive is cut short or
      // corrupt, what came before it has been read, and the rest is reported.
      DecompressingBuffer buffer(file, compression);
      if (buffer.ok()) {
        std::istream in(&buffer);
        read(in, file);
      }
      if (!buffer.ok()) {
        std::cerr << "pickaxe: " << file << ": " << buffer.error() << "\n";
        readable = false;
      }
      continue;
    }
    if (binary_file(file)) {
      std::cerr << "pickaxe: " << file
                << ": a binary file (it holds NUL bytes), not a log; passed over\n";
      readable = false;
      continue;
    }
    if (read_file && read_file(file)) continue;
    std::error_code kind_error;
    if (!std::filesystem::is_regular_file(file, kind_error) &&
        std::filesystem::exists(file, kind_error)) {
      // A named pipe or device: read as it comes, as stdin is.
      int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        std::cerr << "pickaxe: " << file << ": cannot read the file (" << std::strerror(errno)
                  << ")\n";
        readable = false;
        continue;
      }
      FdInputBuffer buffer(fd, before_wait);
      std::istream in(&buffer);
      read(in, file);
      ::close(fd);
      if (!buffer.error().empty()) {
        std::cerr << "pickaxe: " << file << ": cannot read: " << buffer.error() << "\n";
        readable = false;
      }
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "pickaxe: " << file << ": cannot read the file (" << std::strerror(errno)
                << ")\n";
      readable = false;
      continue;
    }
    std::error_code size_error;
    const auto size_before = std::filesystem::file_size(file, size_error);
    read(in, file);
    const auto size_after = std::filesystem::file_size(file, size_error);
    if (!size_error && size_after < size_before && !done() && !stop_requested())
      std::cerr << "pickaxe: " << file
                << ": the file was cut short while it was read (as logrotate's copytruncate "
                   "does); it was read up to the cut\n";
  }
  return readable;
}
}  // namespace pickaxe::cli

namespace {

using namespace pickaxe::cli;

std::string vectorscan_version() {
  std::string version = hs_version();
  return version.substr(0, version.find(' '));
}

std::string version_text() {
  return fmt::format(
      "pickaxe {} (commit {})\nsimdjson {}.{}.{}, Vectorscan {}, RE2 {}, CLI11 {}, fmt {}.{}.{}, "
      "yaml-cpp {}, toml++ {}.{}.{}, zlib {}, zstd {}, {}",
      PICKAXE_VERSION, PICKAXE_GIT_COMMIT, int(simdjson::SIMDJSON_VERSION_MAJOR),
      int(simdjson::SIMDJSON_VERSION_MINOR), int(simdjson::SIMDJSON_VERSION_REVISION),
      vectorscan_version(), PICKAXE_RE2_VERSION, CLI11_VERSION, FMT_VERSION / 10000,
      FMT_VERSION / 100 % 100, FMT_VERSION % 100, PICKAXE_YAML_CPP_VERSION, TOML_LIB_MAJOR,
      TOML_LIB_MINOR, TOML_LIB_PATCH, zlibVersion(), ZSTD_versionString(),
      pickaxe::scan::library_versions());
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

CLI::App* find_command(CLI::App& app, const std::string& name) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

int usage_error(const std::string& message, const std::string& hint) {
  std::cerr << "pickaxe: " << message << "\n";
  if (!hint.empty()) std::cerr << "  = hint: " << hint << "\n";
  return kUsage;
}

int unknown_command(const CLI::App& app, const std::string& word) {
  std::string guess = nearest(word, command_names(app));
  return usage_error(fmt::format("'{}' is not a command{}", word,
                                 guess.empty() ? "" : fmt::format("; did you mean '{}'?", guess)),
                     fmt::format("the commands are {}; `pickaxe help COMMAND` shows one",
                                 fmt::join(command_names(app), ", ")));
}

// A parse error, said as pickaxe says errors: the first option the command
// does not know, with the nearest one it does; else CLI11's message.
int parse_error(const CLI::App& app, const CLI::App* command, const std::vector<std::string>& args,
                const CLI::ParseError& error) {
  const std::string where = command ? command->get_name() : "";
  const std::string help = command ? "pickaxe " + command->get_name() + " --help" : "pickaxe help";
  auto located = [&](const std::string& message) {
    return where.empty() ? message : where + ": " + message;
  };
  // A value not among the choices: the nearest one.
  const std::string text = error.what();
  if (size_t open = text.find(" not in {"); open != std::string::npos && text.ends_with("}")) {
    size_t colon = text.find(": ");
    if (colon != std::string::npos && colon < open) {
      std::string value = text.substr(colon + 2, open - colon - 2);
      std::vector<std::string> choices;
      std::string list = text.substr(open + 9, text.size() - open - 10);
      for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        choices.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
      std::string guess = nearest(value, choices);
      return usage_error(
          located(fmt::format("{}: '{}' is not one of {}{}", text.substr(0, colon), value,
                              fmt::join(choices, ", "),
                              guess.empty() ? "" : fmt::format("; did you mean '{}'?", guess))),
          fmt::format("`{}` lists its options", help));
    }
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&error)) {
    const CLI::App& scope = command ? *command : app;
    std::vector<std::string> names, taking_values;
    for (const CLI::Option* option : scope.get_options()) {
      std::vector<std::string> own;
      for (const std::string& name : option->get_lnames()) own.push_back("--" + name);
      for (const std::string& name : option->get_snames()) own.push_back("-" + name);
      names.insert(names.end(), own.begin(), own.end());
      if (option->get_expected_max() > 0)
        taking_values.insert(taking_values.end(), own.begin(), own.end());
    }
    bool value_next = false;
    for (const std::string& arg : args) {
      if (arg == "--") break;
      if (value_next) {  // the value of the option before: not an option
        value_next = false;
        continue;
      }
      if (!arg.starts_with("-") || arg == "-") continue;
      std::string name = arg.substr(0, arg.find('='));
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        value_next =
            arg.find('=') == std::string::npos &&
            std::find(taking_values.begin(), taking_values.end(), name) != taking_values.end();
        continue;
      }
      if (!name.starts_with("--") && name.size() > 2) continue;  // -5 or a value
      std::string guess = nearest(name, names);
      std::string hint = fmt::format("`{}` lists its options", help);
      if (!command) {
        // An option of a command, given before it (or without one).
        std::vector<std::string> owners;
        for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
          if (sub->get_option_no_throw(name)) owners.push_back(sub->get_name());
        if (!owners.empty())
          hint =
              fmt::format("{} is an option of {}: write it after the command, e.g. `pickaxe {} {}`",
                          name, fmt::join(owners, ", "), owners.front(), name);
      }
      return usage_error(
          located(fmt::format("unknown option '{}'{}", name,
                              guess.empty() ? "" : fmt::format("; did you mean '{}'?", guess))),
          hint);
    }
  }
  if (dynamic_cast<const CLI::ConfigError*>(&error))
    return usage_error(error.what(), "`pickaxe help config` shows the file's shape");
  return usage_error(located(error.what()), fmt::format("`{}` lists its options", help));
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);  // C++ streams only: stdin and stdout in large reads and writes
  CLI::App app{
      "pickaxe: a standalone engine for Elastic Security EQL detection rules.\n"
      "Reads EQL, Elastic detection-rules TOML, Sigma and published rule pages, explains what is "
      "wrong with them, and runs them over security telemetry.\n"
      "Exit codes: 0 done, 1 errors in rules or input, 2 usage, 3 alerts raised with "
      "--fail-on-alert.\n"
      "Options' defaults can be set in pickaxe.toml (`pickaxe help config`).",
      "pickaxe"};
  app.set_version_flag("-V,--version", version_text());
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  app.option_defaults()->always_capture_default();
  std::function<int()> run;
  add_lint_command(app, run);
  add_fmt_command(app, run);
  add_query_command(app, run);
  add_hunt_command(app, run);
  add_watch_command(app, run);
  add_ship_command(app, run);
  add_serve_command(app, run);
  add_alerts_command(app, run);
  add_validate_command(app, run);
  add_scan_command(app, run);
  add_convert_command(app, run);
  add_rules_command(app, run);
  add_completion_command(app, run);
  add_man_command(app, run);
  // Every command takes --config FILE and --print-config.
  std::string config_named;
  bool print = false;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->add_option("--config", config_named,
                    "Read option defaults from this file (default: ./pickaxe.toml, else "
                    "~/.config/pickaxe/pickaxe.toml)")
        ->configurable(false);
    sub->add_flag("--print-config", print,
                  "Print the options as they are (command line, then the file, then defaults) as "
                  "a pickaxe.toml section, and exit")
        ->configurable(false);
  }

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << app.help();
    return usage_error(
        "a command is required",
        fmt::format("e.g. `pickaxe hunt examples/events.ndjson`; the commands are {}",
                    fmt::join(command_names(app), ", ")));
  }
  if (args[0] == "help") {
    if (args.size() == 1) {
      std::cout << app.help();
      return kSuccess;
    }
    if (args[1] == "config") {
      std::cout << config_help();
      return kSuccess;
    }
    if (!find_command(app, args[1])) return unknown_command(app, args[1]);
    // As `pickaxe COMMAND --help` says it.
    try {
      app.parse(std::vector<std::string>{"--help", args[1]});  // CLI11 reads it reversed
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    return kSuccess;
  }
  CLI::App* command = args[0].starts_with("-") ? nullptr : find_command(app, args[0]);
  if (!command && !args[0].starts_with("-")) return unknown_command(app, args[0]);
  bool config_given = false;
  const std::string config_path = find_config(args, config_given);
  if (command && !config_path.empty()) {
    std::error_code error;
    if (!std::filesystem::exists(config_path, error) ||
        std::filesystem::is_directory(config_path, error))
      return usage_error(fmt::format("{}: the configuration file cannot be read", config_path),
                         "--config names a pickaxe.toml; $PICKAXE_CONFIG too");
    // A file picked up from the working folder is said: a folder of
    // evidence could hold one.
    if (!config_given && config_path == "pickaxe.toml")
      std::cerr << "pickaxe: using ./pickaxe.toml (--config names another file)\n";
    app.set_config("--pickaxe-config-file", config_path, "", true);
    app.get_config_ptr()->group("");  // not shown: --config on each command says it
    app.config_formatter(make_config_reader(app, command->get_name(), config_path));
  }
  // --print-config needs no positional argument.
  if (command && std::find(args.begin(), args.end(), "--print-config") != args.end())
    for (CLI::Option* option : command->get_options())
      if (option->get_lnames().empty()) option->required(false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A bad value the configuration file gave: said at its line.
    const std::string text = e.what();
    const size_t dashes = text.find("--");
    if (command && !config_path.empty() && dashes != std::string::npos) {
      const std::string option = text.substr(dashes, text.find_first_of(": =", dashes) - dashes);
      const bool on_command_line = std::any_of(args.begin(), args.end(), [&](const auto& arg) {
        return arg == option || arg.starts_with(option + "=");
      });
      const std::string where =
          on_command_line ? ""
                          : config_location(config_path, command->get_name(), option.substr(2));
      if (!where.empty())
        return usage_error(fmt::format("{}: {}", where, text),
                           "`pickaxe help config` shows the file's shape");
    }
    return parse_error(app, command, args, e);
  }
  if (print && command) {
    std::cout << "# pickaxe " << command->get_name()
              << (config_path.empty() ? "" : ", with " + config_path) << "\n"
              << print_config(*command);
    return kSuccess;
  }
  try {
    return run ? run() : kUsage;
  } catch (const std::exception& e) {
    std::cerr << "pickaxe: error: " << e.what() << "\n";
    return kFindings;
  }
}
