#include "cli/alert_output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <simdjson.h>

#include "util/json_writer.h"

namespace pickaxe::cli {

std::optional<AlertFormat> alert_format_from_name(std::string_view name) {
  if (name == "ndjson") return AlertFormat::Ndjson;
  if (name == "json") return AlertFormat::Json;
  if (name == "csv") return AlertFormat::Csv;
  if (name == "timeline") return AlertFormat::Timeline;
  if (name == "table") return AlertFormat::Table;
  return std::nullopt;
}

size_t terminal_width(int fd) {
  winsize size{};
  if (isatty(fd) == 1 && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    long value = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 10000)
      return static_cast<size_t>(value);
  }
  return 160;
}

bool use_color(std::string_view choice, int fd) {
  if (choice == "always") return true;
  if (choice == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(fd) == 1 && (no_color == nullptr || *no_color == '\0');
}

namespace {

size_t code_points(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The byte offset after the first `count` code points.
size_t prefix_bytes(std::string_view text, size_t count) {
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (seen == count) return i;
    ++seen;
  }
  return text.size();
}

std::string pad(std::string_view text, size_t width) {
  std::string out(text);
  size_t length = code_points(text);
  if (length < width) out.append(width - length, ' ');
  return out;
}

std::string_view severity_color(std::string_view severity) {
  if (severity == "critical") return "\x1b[1;31m";
  if (severity == "high") return "\x1b[31m";
  if (severity == "medium") return "\x1b[33m";
  if (severity == "low") return "\x1b[32m";
  return "";
}

// The nested form's tree: an object's members in first-seen order, or a
// value's JSON text.
struct Node {
  std::string value;  // JSON text, when not an object
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> members;
  bool object = false;
  Node* member(std::string_view name) {
    for (auto& [key, node] : members)
      if (key == name) return node.get();
    return nullptr;
  }
  Node* add(std::string_view name) {
    members.emplace_back(std::string(name), std::make_unique<Node>());
    return members.back().second.get();
  }
};

void insert(Node& root, Node& parent, const std::string& path, std::string_view key,
            simdjson::dom::element value);

// `path`: the dotted path of `node` from the root ("" for the root).
void merge_object(Node& root, Node& node, const std::string& path, simdjson::dom::object object) {
  node.object = true;
  for (auto field : object) insert(root, node, path, field.key, field.value);
}

void insert(Node& root, Node& parent, const std::string& path, std::string_view key,
            simdjson::dom::element value) {
  // Walk the dotted path as far as it leads through objects.
  Node* at = &parent;
  std::string_view rest = key;
  while (true) {
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) break;
    std::string_view head = rest.substr(0, dot);
    Node* next = at->member(head);
    if (next && !next->object) break;  // a value there: keep the rest dotted
    if (!next) {
      next = at->add(head);
      next->object = true;
    }
    at = next;
    rest = rest.substr(dot + 1);
  }
  const std::string full = path.empty() ? std::string(key) : path + "." + std::string(key);
  Node* existing = at->member(rest);
  if (value.is_object()) {
    if (existing && existing->object)
      return merge_object(root, *existing, full, value.get_object().value());
    if (!existing) return merge_object(root, *at->add(rest), full, value.get_object().value());
  } else if (!existing) {
    at->add(rest)->value = simdjson::minify(value);
    return;
  }
  // A clash (a value and an object, or two values for one path): the value
  // stays under its whole dotted path at the top level, once.
  if (root.member(full)) return;
  Node* kept = root.add(full);
  if (value.is_object())
    merge_object(root, *kept, full, value.get_object().value());
  else
    kept->value = simdjson::minify(value);
}

void write_node(const Node& node, std::string& out) {
  if (!node.object) {
    out += node.value;
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& [key, member] : node.members) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    write_node(*member, out);
  }
  out += '}';
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

std::string clip(std::string_view text, size_t width) {
  if (code_points(text) <= width) return std::string(text);
  if (width == 0) return "";
  return std::string(text.substr(0, prefix_bytes(text, width - 1))) + "~";
}

std::string csv_field(std::string_view text) {
  // A field a spreadsheet would run as a formula (=, +, -, @, tab, CR first:
  // the attacker writes the logs) is kept as text with a leading quote.
  std::string guarded;
  if (!text.empty() && std::string_view("=+-@\t\r").find(text[0]) != std::string_view::npos) {
    guarded.reserve(text.size() + 1);
    guarded.push_back('\'');
    guarded.append(text);
    text = guarded;
  }
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string nest_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(json.data(), json.size()).get(document) || !document.is_object())
    return std::string(json);
  Node root;
  merge_object(root, root, "", document.get_object().value());
  std::string out;
  out.reserve(json.size());
  write_node(root, out);
  return out;
}

AlertWriter::AlertWriter(Output& out, AlertWriterOptions options) : out_(out), options_(options) {
  if (!table()) return;
  // TIME and SEVERITY are fixed (seconds only under 100 columns); RULE,
  // HOST and MATCH share the rest.
  time_width_ = options_.width < 100 ? 19 : 24;
  const size_t fixed = time_width_ + 2 + 8 + 2 + 2 + 2;
  const size_t rest = options_.width > fixed + 30 ? options_.width - fixed : 30;
  host_width_ = rest >= 90 ? 16 : 10;
  rule_width_ = std::max<size_t>(16, rest * 45 / 100);
  if (options_.longest_rule > 0) rule_width_ = std::min(rule_width_, options_.longest_rule);
  rule_width_ = std::max<size_t>(rule_width_, 4);
  match_width_ = rest > rule_width_ + host_width_ ? rest - rule_width_ - host_width_ : 0;
  // Less than 16 columns for the match: it is left out, the rule gets them.
  if (match_width_ < 16) {
    rule_width_ += match_width_;
    match_width_ = 0;
  }
}

void AlertWriter::begin() {
  switch (options_.format) {
    case AlertFormat::Ndjson: return;
    case AlertFormat::Json: out_.write("["); return;
    case AlertFormat::Csv:
      out_.write(
          "timestamp,severity,risk_score,rule_name,rule_id,host,match,techniques,reason,alert_uuid"
          "\n");
      return;
    case AlertFormat::Timeline: out_.write("Timestamp,Host,Level,Rule,Details\n"); return;
    case AlertFormat::Table: {
      std::string header =
          fmt::format("{}  {}  {}  {}", pad("TIME", time_width_), pad("SEVERITY", 8),
                      pad("RULE", rule_width_), pad(options_.host_label, host_width_));
      if (match_width_ > 0) header += "  MATCH";
      while (!header.empty() && header.back() == ' ') header.pop_back();
      out_.write(header + "\n");
      if (options_.flush_rows) out_.flush();
      return;
    }
  }
}

void AlertWriter::write(const AlertRow& row, std::string_view json, bool building_block) {
  switch (options_.format) {
    case AlertFormat::Ndjson:
      out_.record(options_.nested ? nest_json(json) + "\n" : std::string(json) + "\n");
      return;
    case AlertFormat::Json:
      out_.record(fmt::format("{}\n{}", first_ ? "" : ",",
                              options_.nested ? nest_json(json) : std::string(json)));
      first_ = false;
      return;
    case AlertFormat::Csv:
      if (building_block) return;
      out_.record(fmt::format("{},{},{},{},{},{},{},{},{},{}\n", csv_field(row.time),
                              csv_field(row.severity), row.risk_score, csv_field(row.rule),
                              csv_field(row.rule_id), csv_field(row.host), csv_field(row.match),
                              csv_field(row.techniques), csv_field(row.reason),
                              csv_field(row.uuid)));
      return;
    case AlertFormat::Timeline:
      if (building_block) return;
      out_.record(fmt::format("{},{},{},{},{}\n", csv_field(row.time), csv_field(row.host),
                              csv_field(row.severity), csv_field(row.rule),
                              csv_field(row.match.empty() ? row.reason : row.match)));
      return;
    case AlertFormat::Table:
      if (building_block) return;
      write_table_row(row);
      return;
  }
}

void AlertWriter::write_table_row(const AlertRow& row) {
  std::string severity = pad(row.severity, 8);
  if (options_.color) {
    std::string_view color = severity_color(row.severity);
    if (!color.empty()) severity = fmt::format("{}{}\x1b[0m", color, severity);
  }
  std::string line =
      fmt::format("{}  {}  {}  {}", pad(printable(row.time).substr(0, time_width_), time_width_),
                  severity, pad(clip(printable(row.rule), rule_width_), rule_width_),
                  pad(clip(printable(row.host), host_width_), host_width_));
  if (match_width_ > 0) line += "  " + clip(printable(row.match), match_width_);
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out_.record(line + "\n");
  if (options_.flush_rows) out_.flush();
}

void AlertWriter::end() {
  if (options_.format == AlertFormat::Json) out_.write(first_ ? "]\n" : "\n]\n");
  out_.flush();
}

void ResultsSummary::add(const AlertRow& row) {
  ++alerts_;
  ++by_severity_[row.severity];
  ++by_host_[row.host.empty() ? "(no host)" : row.host];
  if (!row.time.empty()) {
    // ISO 8601 times in UTC compare as text.
    if (first_.empty() || row.time < first_) first_ = row.time;
    if (last_.empty() || row.time > last_) last_ = row.time;
  }
}

std::string ResultsSummary::text(size_t top_hosts) const {
  if (alerts_ == 0) return "";
  std::vector<std::string> severities;
  for (const char* level : {"critical", "high", "medium", "low"}) {
    auto it = by_severity_.find(level);
    severities.push_back(fmt::format("{} {}", level, it == by_severity_.end() ? 0 : it->second));
  }
  for (const auto& [level, count] : by_severity_)
    if (level != "critical" && level != "high" && level != "medium" && level != "low")
      severities.push_back(fmt::format("{} {}", level, count));
  std::string out = fmt::format("  by severity: {}\n", fmt::join(severities, ", "));
  if (!first_.empty()) out += fmt::format("  event times: {} to {}\n", first_, last_);
  std::vector<std::pair<std::string, uint64_t>> hosts(by_host_.begin(), by_host_.end());
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  out += fmt::format("  by host ({}):", hosts.size());
  for (size_t i = 0; i < hosts.size() && i < top_hosts; ++i)
    out += fmt::format("{} {} {}", i == 0 ? "" : ",", hosts[i].first, hosts[i].second);
  if (hosts.size() > top_hosts) out += fmt::format(", {} more", hosts.size() - top_hosts);
  return out + "\n";
}

}  // namespace pickaxe::cli
