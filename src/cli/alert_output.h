// How alerts are written: NDJSON, a JSON array, CSV, a Hayabusa-style
// timeline, or a table sized to the terminal; and the results summary.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/output.h"

namespace pickaxe::cli {

enum class AlertFormat { Ndjson, Json, Csv, Timeline, Table };
std::optional<AlertFormat> alert_format_from_name(std::string_view name);
// The names --format takes, for its help and check.
inline const std::vector<std::string> kAlertFormatNames{"ndjson", "json", "csv", "timeline",
                                                        "table"};

// What a row shows of one alert.
struct AlertRow {
  std::string time;  // the original event time
  std::string severity;
  std::string rule;
  std::string rule_id;
  std::string host;
  std::string match;  // what matched
  std::string reason;
  std::string uuid;
  std::string techniques;  // ATT&CK ids, ";"-joined
  int64_t risk_score = 0;
};

// The columns of the terminal (TIOCGWINSZ on `fd`); else $COLUMNS; else 160.
size_t terminal_width(int fd);
// --color auto|always|never: auto colours a terminal unless NO_COLOR is set.
bool use_color(std::string_view choice, int fd);

// An alert document with its dotted keys ("kibana.alert.rule.name") made
// nested objects, merged with the objects already there. A key that would
// overwrite a value stays dotted. Returns `json` unchanged when it is no object.
std::string nest_json(std::string_view json);

struct AlertWriterOptions {
  AlertFormat format = AlertFormat::Ndjson;
  bool nested = false;  // JSON formats: nested objects instead of dotted keys
  bool color = false;   // table: severity in colour
  size_t width = 160;   // table: the line's width
  // table: the longest rule name (its column is no wider); 0: unknown.
  size_t longest_rule = 0;
  // table: a terminal sees each row as soon as it is written.
  bool flush_rows = false;
  std::string host_label = "HOST";  // table: the host column's title (scan: IMAGE)
};

// Writes alerts to `out` in one format. Table rows, CSV and timeline lines
// leave out building-block alerts, as Kibana's alert table does.
class AlertWriter {
 public:
  AlertWriter(Output& out, AlertWriterOptions options);
  // The header (CSV, timeline, table) or the array's opening.
  void begin();
  void write(const AlertRow& row, std::string_view json, bool building_block);
  // The array's closing; flushes.
  void end();
  bool table() const { return options_.format == AlertFormat::Table; }

 private:
  void write_table_row(const AlertRow& row);
  Output& out_;
  AlertWriterOptions options_;
  size_t time_width_ = 24, rule_width_ = 40, host_width_ = 16, match_width_ = 60;
  bool first_ = true;
};

// What a run raised, for its closing summary: alerts per severity, rule and
// host, and the first and last event time (per rule: the hunter's counts).
class ResultsSummary {
 public:
  void add(const AlertRow& row);
  // The lines, each starting with two spaces; "" when there were no alerts.
  std::string text(size_t top_hosts = 10) const;

 private:
  std::map<std::string, uint64_t> by_severity_, by_host_;
  std::string first_, last_;
  uint64_t alerts_ = 0;
};

// CSV field quoting, RFC 4180.
std::string csv_field(std::string_view text);
// `text` cut to at most `width` code points, a cut marked with '~'.
// Control characters would move the terminal's cursor: shown as spaces.
std::string printable(std::string_view text);
std::string clip(std::string_view text, size_t width);

}  // namespace pickaxe::cli
