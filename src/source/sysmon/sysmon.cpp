#include "source/sysmon/sysmon.h"

#include <charconv>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "event/schema.h"
#include "source/common.h"
#include "util/binary_io.h"

namespace pickaxe::source {

const std::string* SysmonEvent::find(std::string_view name) const {
  for (const auto& [key, value] : data)
    if (key == name) return &value;
  return nullptr;
}

namespace {

std::optional<int64_t> to_int(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Sysmon writes "-" for no value and all-zero GUIDs for no process.
bool empty_value(std::string_view value) {
  return value.empty() || value == "-" || value == "{00000000-0000-0000-0000-000000000000}";
}

std::string_view basename(std::string_view path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view dirname(std::string_view path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return {};
  return slash == 0 ? path.substr(0, 1) : path.substr(0, slash);
}

// Splits a command line as a POSIX shell would for plain words and quotes
// (no expansion). Elastic's pipeline uses Windows rules, wrong on Linux.
std::vector<std::string> split_command_line(std::string_view line) {
  std::vector<std::string> args;
  std::string current;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote)
        quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < line.size() &&
               (line[i + 1] == '"' || line[i + 1] == '\\'))
        current += line[++i];
      else
        current += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      current += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) args.push_back(std::move(current));
      current.clear();
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (in_word) args.push_back(std::move(current));
  return args;
}

struct Categorisation {
  std::vector<std::string_view> category, type;
};

// event.category / event.type per EventID, as Elastic's pipeline.
Categorisation categorise(int64_t id) {
  switch (id) {
    case 1: return {{"process"}, {"start"}};
    case 2: return {{"file"}, {"change"}};
    case 3: return {{"network"}, {"start", "connection", "protocol"}};
    case 4: return {{"process"}, {"change"}};
    case 5: return {{"process"}, {"end"}};
    case 6: return {{"driver"}, {"start"}};
    case 7: return {{"process"}, {"change"}};
    case 10: return {{"process"}, {"access"}};
    case 11: return {{"file"}, {"creation"}};
    case 12:
    case 13:
    case 14: return {{"configuration", "registry"}, {"change"}};
    case 15: return {{"file"}, {"access"}};
    case 16: return {{"configuration"}, {"change"}};
    case 17: return {{"file"}, {"creation"}};
    case 18: return {{"file"}, {"access"}};
    case 22: return {{"network"}, {"connection", "protocol", "info"}};
    case 23: return {{"file"}, {"deletion"}};
    case 24: return {{}, {"change"}};
    case 25: return {{"process"}, {"change"}};
    case 26: return {{"file"}, {"deletion"}};
    default: return {};
  }
}

std::string_view level_name(std::string_view level) {
  if (level == "1") return "critical";
  if (level == "2") return "error";
  if (level == "3") return "warning";
  if (level == "4" || level == "0") return "information";
  if (level == "5") return "verbose";
  return level;
}

// "2022-10-24 17:06:14.200" (UtcTime) -> "2022-10-24T17:06:14.200Z"
std::string utc_time(std::string_view text) {
  if (text.size() < 19 || text[10] != ' ') return {};
  std::string out(text);
  out[10] = 'T';
  out += 'Z';
  return parse_timestamp(out) ? out : std::string{};
}

void hashes(JsonWriter& json, std::string_view text) {
  // "SHA256=abc,MD5=def"
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(start, end - start);
    size_t equals = pair.find('=');
    if (equals != std::string_view::npos) {
      std::string name;
      for (char c : pair.substr(0, equals)) name += static_cast<char>(std::tolower(c));
      if (name == "md5" || name == "sha1" || name == "sha256" || name == "imphash")
        json.key(name).value(valid_utf8(pair.substr(equals + 1)));
    }
    start = end + 1;
  }
}

}  // namespace

bool parse_sysmon_xml(std::string_view xml, SysmonEvent& event, std::string& error,
                      size_t& error_offset) {
  pugi::xml_document document;
  pugi::xml_parse_result parsed =
      document.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    error = fmt::format("broken XML: {}", parsed.description());
    error_offset = static_cast<size_t>(std::max<ptrdiff_t>(parsed.offset, 0));
    return false;
  }
  pugi::xml_node root = document.child("Event");
  pugi::xml_node system = root.child("System");
  if (!root || !system) {
    error = "XML without <Event><System>";
    error_offset = 0;
    return false;
  }
  auto id = to_int(system.child_value("EventID"));
  if (!id) {
    error = "<EventID> is not a number";
    error_offset = 0;
    return false;
  }
  event.event_id = *id;
  event.provider_name = system.child("Provider").attribute("Name").value();
  event.provider_guid = system.child("Provider").attribute("Guid").value();
  event.version = system.child_value("Version");
  event.level = system.child_value("Level");
  event.opcode = system.child_value("Opcode");
  event.time_created = system.child("TimeCreated").attribute("SystemTime").value();
  event.record_id = system.child_value("EventRecordID");
  event.channel = system.child_value("Channel");
  event.computer = system.child_value("Computer");
  event.user_id = system.child("Security").attribute("UserId").value();
  if (auto pid = to_int(system.child("Execution").attribute("ProcessID").value()))
    event.process_id = *pid;
  if (auto tid = to_int(system.child("Execution").attribute("ThreadID").value()))
    event.thread_id = *tid;
  for (pugi::xml_node data : root.child("EventData").children("Data"))
    event.data.emplace_back(data.attribute("Name").value(), data.child_value());
  return true;
}

std::string sysmon_to_ecs(const SysmonEvent& event) {
  auto get = [&](std::string_view name) -> std::string_view {
    const std::string* value = event.find(name);
    return value && !empty_value(*value) ? std::string_view(*value) : std::string_view{};
  };
  JsonWriter json;
  json.begin_object();
  // The event's own time (UtcTime) when there is one, else when it was logged.
  std::string timestamp = utc_time(get("UtcTime"));
  if (timestamp.empty()) timestamp = event.time_created;
  json.key("@timestamp").value(valid_utf8(timestamp));

  Categorisation categories = categorise(event.event_id);
  json.key("event").begin_object();
  json.key("action").value("log");
  json.key("code").value(std::to_string(event.event_id));
  if (!categories.category.empty()) {
    json.key("category").begin_array();
    for (auto c : categories.category) json.value(c);
    json.end_array();
  }
  if (!categories.type.empty()) {
    json.key("type").begin_array();
    for (auto t : categories.type) json.value(t);
    json.end_array();
  }
  maybe(json, "created", valid_utf8(event.time_created));
  json.key("kind").value("event");
  json.key("provider")
      .value(event.provider_name.empty() ? "Linux-Sysmon" : valid_utf8(event.provider_name));
  close_event(json, "sysmon_linux.log", "sysmon_linux");

  std::string host = event.syslog_hostname.empty() ? event.computer : event.syslog_hostname;
  if (!host.empty()) {
    json.key("host").begin_object();
    json.key("hostname").value(valid_utf8(host)).key("name").value(valid_utf8(host));
    json.end_object();
  }
  bool has_syslog = !event.syslog_hostname.empty() || !event.syslog_appname.empty();
  if (!event.level.empty() || has_syslog) {
    json.key("log").begin_object();
    if (!event.level.empty()) json.key("level").value(valid_utf8(level_name(event.level)));
    if (has_syslog) {
      json.key("syslog").begin_object();
      maybe(json, "hostname", valid_utf8(event.syslog_hostname));
      maybe(json, "appname", valid_utf8(event.syslog_appname));
      maybe(json, "procid", valid_utf8(event.syslog_procid));
      json.end_object();
    }
    json.end_object();
  }
  if (std::string_view rule = get("RuleName"); !rule.empty())
    json.key("rule").begin_object().key("name").value(valid_utf8(rule)).end_object();

  // process.* and process.parent.*
  auto process = [&](std::string_view prefix) {
    auto field = [&](std::string_view name) { return get(fmt::format("{}{}", prefix, name)); };
    std::string_view image = field("Image");
    std::string_view command_line = field("CommandLine");
    std::string_view guid = field("ProcessGuid");
    std::string_view pid = field("ProcessId");
    if (image.empty() && command_line.empty() && guid.empty() && pid.empty()) return false;
    if (auto number = to_int(pid)) json.key("pid").value(*number);
    maybe(json, "entity_id", valid_utf8(guid));
    if (!image.empty()) {
      json.key("executable").value(valid_utf8(image));
      if (image != "(null)") json.key("name").value(valid_utf8(basename(image)));
    }
    if (!command_line.empty()) {
      json.key("command_line").value(valid_utf8(command_line));
      std::vector<std::string> args = split_command_line(command_line);
      json.key("args").begin_array();
      for (const std::string& arg : args) json.value(valid_utf8(arg));
      json.end_array();
      json.key("args_count").value(static_cast<int64_t>(args.size()));
    }
    maybe(json, "working_directory", valid_utf8(field("CurrentDirectory")));
    if (std::string_view user = field("User"); !user.empty())
      json.key("user").begin_object().key("name").value(valid_utf8(user)).end_object();
    return true;
  };
  json.key("process").begin_object();
  process("");
  if (!get("ParentImage").empty() || !get("ParentProcessId").empty() ||
      !get("ParentProcessGuid").empty()) {
    json.key("parent").begin_object();
    process("Parent");
    json.end_object();
  }
  std::string_view hash_text = get("Hashes");
  bool process_hash =
      !hash_text.empty() && (event.event_id == 1 || event.event_id == 23 || event.event_id == 24 ||
                             event.event_id == 25 || event.event_id == 26);
  if (process_hash) {
    json.key("hash").begin_object();
    hashes(json, hash_text);
    json.end_object();
  }
  json.end_object();

  if (std::string_view user = get("User"); !user.empty())
    json.key("user").begin_object().key("name").value(valid_utf8(user)).end_object();

  if (std::string_view target = get("TargetFilename"); !target.empty()) {
    json.key("file").begin_object();
    json.key("path").value(valid_utf8(target));
    json.key("name").value(valid_utf8(basename(target)));
    maybe(json, "directory", valid_utf8(dirname(target)));
    if (!hash_text.empty() && !process_hash) {
      json.key("hash").begin_object();
      hashes(json, hash_text);
      json.end_object();
    }
    json.end_object();
  }

  // Network (EventID 3).
  auto endpoint = [&](std::string_view side, std::string_view prefix) {
    std::string_view ip = get(fmt::format("{}Ip", prefix));
    std::string_view port = get(fmt::format("{}Port", prefix));
    std::string_view domain = get(fmt::format("{}Hostname", prefix));
    if (ip.empty() && port.empty() && domain.empty()) return;
    json.key(side).begin_object();
    maybe(json, "ip", valid_utf8(ip));
    if (auto number = to_int(port)) json.key("port").value(*number);
    maybe(json, "domain", valid_utf8(domain));
    json.end_object();
  };
  endpoint("source", "Source");
  endpoint("destination", "Destination");
  std::string_view protocol = get("Protocol");
  std::string_view initiated = get("Initiated");
  std::string_view ipv6 = get("SourceIsIpv6");
  std::string_view port_name = get("DestinationPortName");
  if (port_name.empty()) port_name = get("SourcePortName");
  if (!protocol.empty() || !initiated.empty() || !ipv6.empty()) {
    json.key("network").begin_object();
    maybe(json, "transport", valid_utf8(protocol));
    if (!initiated.empty()) json.key("direction").value(initiated == "true" ? "egress" : "ingress");
    if (!ipv6.empty()) json.key("type").value(ipv6 == "true" ? "ipv6" : "ipv4");
    maybe(json, "protocol", valid_utf8(port_name));
    json.end_object();
  }

  // winlog.*: the record as Elastic Agent decodes it.
  json.key("winlog").begin_object();
  maybe(json, "channel", valid_utf8(event.channel));
  maybe(json, "computer_name", valid_utf8(event.computer));
  json.key("event_id").value(std::to_string(event.event_id));
  maybe(json, "opcode", valid_utf8(event.opcode == "0" ? "Info" : event.opcode));
  maybe(json, "provider_guid", valid_utf8(event.provider_guid));
  maybe(json, "provider_name", valid_utf8(event.provider_name));
  maybe(json, "record_id", valid_utf8(event.record_id));
  if (auto version = to_int(event.version)) json.key("version").value(*version);
  if (event.process_id >= 0) {
    json.key("process").begin_object().key("pid").value(event.process_id);
    if (event.thread_id >= 0)
      json.key("thread").begin_object().key("id").value(event.thread_id).end_object();
    json.end_object();
  }
  if (!event.user_id.empty())
    json.key("user").begin_object().key("identifier").value(valid_utf8(event.user_id)).end_object();
  json.key("event_data").begin_object();
  for (const auto& [name, value] : event.data)
    if (!empty_value(value) && !name.empty()) json.key(valid_utf8(name)).value(valid_utf8(value));
  json.end_object();
  json.end_object();
  json.end_object();
  return valid_utf8(json.str());
}

namespace {

// A syslog header before "sysmon:": BSD ("Oct 24 17:05:31 host sysmon[3041]:")
// or RFC 3339 ("2026-06-08T05:28:19.190027+00:00 host sysmon:").
void parse_syslog_header(std::string_view header, SysmonEvent& event) {
  std::vector<std::string_view> words;
  size_t start = 0;
  while (start < header.size()) {
    size_t end = header.find(' ', start);
    if (end == std::string_view::npos) end = header.size();
    if (end > start) words.push_back(header.substr(start, end - start));
    start = end + 1;
  }
  if (words.size() < 2) return;
  std::string_view tag = words.back();
  if (tag.ends_with(':')) tag.remove_suffix(1);
  size_t bracket = tag.find('[');
  event.syslog_appname = std::string(tag.substr(0, bracket));
  if (bracket != std::string_view::npos && tag.ends_with(']'))
    event.syslog_procid = std::string(tag.substr(bracket + 1, tag.size() - bracket - 2));
  event.syslog_hostname = std::string(words[words.size() - 2]);
}

}  // namespace

void SysmonDecoder::add_line(std::string_view text, uint64_t number) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.find_first_not_of(" \t") == std::string_view::npos) return;
  size_t start = text.find("<Event");
  if (start == std::string_view::npos) {
    ++without_event_;  // Sysmon's start-up banner and other plain lines
    return;
  }
  // Several events may share a line; each one ends at </Event>.
  while (start != std::string_view::npos) {
    size_t end = text.find("</Event>", start);
    size_t stop = end == std::string_view::npos ? text.size() : end + 8;
    SysmonEvent event;
    parse_syslog_header(text.substr(0, start), event);
    std::string error;
    size_t offset = 0;
    if (!parse_sysmon_xml(text.substr(start, stop - start), event, error, offset)) {
      problem_(number, fmt::format("column {}: {}; event skipped", start + offset + 1, error),
               true);
    } else {
      emit_(sysmon_to_ecs(event), number);
    }
    if (end == std::string_view::npos) break;
    start = text.find("<Event", stop);
  }
}

bool looks_like_sysmon_record(simdjson::dom::element record) {
  std::string_view message = text(record, "SyslogMessage");
  if (message.starts_with("<Event")) return true;
  simdjson::dom::element winlog;
  if (record["winlog"].get(winlog) != simdjson::SUCCESS) return false;
  std::string_view provider = text(winlog, "provider_name");
  simdjson::dom::element data;
  if (provider.empty() && winlog["event_data"].get(data) == simdjson::SUCCESS)
    provider = text(data, "provider_name");
  return provider == "Linux-Sysmon" || text(winlog, "channel") == "Linux-Sysmon/Operational";
}

bool decode_sysmon_record(simdjson::dom::element record, std::string& out, std::string& error) {
  SysmonEvent event;
  if (std::string_view message = text(record, "SyslogMessage"); !message.empty()) {
    size_t offset = 0;
    if (!parse_sysmon_xml(message, event, error, offset)) {
      error = fmt::format("SyslogMessage at character {}: {}", offset + 1, error);
      return false;
    }
    event.syslog_hostname = std::string(text(record, "HostName"));
    event.syslog_appname = std::string(text(record, "ProcessName"));
    out = sysmon_to_ecs(event);
    return true;
  }
  simdjson::dom::element winlog;
  if (record["winlog"].get(winlog) != simdjson::SUCCESS || !winlog.is_object()) {
    error = "Sysmon record without SyslogMessage or winlog";
    return false;
  }
  std::string_view id_text = text(winlog, "event_id");
  int64_t id = -1;
  if (winlog["event_id"].get_int64().get(id) != simdjson::SUCCESS) {
    auto parsed = to_int(id_text);
    if (!parsed) {
      error = "winlog.event_id is missing or not a number";
      return false;
    }
    id = *parsed;
  }
  event.event_id = id;
  event.record_id = std::string(text(winlog, "record_id"));
  event.computer = std::string(text(winlog, "computer_name"));
  event.channel = std::string(text(winlog, "channel"));
  event.provider_guid = std::string(text(winlog, "provider_guid"));
  event.provider_name = std::string(text(winlog, "provider_name"));
  event.time_created = std::string(text(winlog, "time_created"));
  event.level = std::string(text(winlog, "level"));
  simdjson::dom::element process, syslog;
  simdjson::dom::object fields;
  if (winlog["process"].get(process) == simdjson::SUCCESS) {
    int64_t value = 0;
    if (process["pid"].get_int64().get(value) == simdjson::SUCCESS) event.process_id = value;
    if (process.at_pointer("/thread/id").get_int64().get(value) == simdjson::SUCCESS)
      event.thread_id = value;
  }
  if (winlog["event_data"].get_object().get(fields) == simdjson::SUCCESS) {
    for (auto [key, value] : fields) {
      std::string_view string;
      if (value.get_string().get(string) != simdjson::SUCCESS) continue;
      if (key == "opcode")
        event.opcode = std::string(string);
      else if (key == "version")
        event.version = std::string(string);
      else if (key == "provider_name" && event.provider_name.empty())
        event.provider_name = std::string(string);
      else
        event.data.emplace_back(std::string(key), std::string(string));
    }
  }
  if (std::string_view opcode = text(winlog, "opcode"); !opcode.empty()) event.opcode = opcode;
  if (record.at_pointer("/log/syslog").get(syslog) == simdjson::SUCCESS) {
    event.syslog_hostname = std::string(text(syslog, "hostname"));
    event.syslog_appname = std::string(text(syslog, "appname"));
    event.syslog_procid = std::string(text(syslog, "procid"));
  }
  if (event.time_created.empty() && !event.find("UtcTime")) {
    error = "Sysmon record without a time (winlog.time_created or UtcTime)";
    return false;
  }
  out = sysmon_to_ecs(event);
  return true;
}

void SysmonDecoder::save(std::string& out) const {
  put(out, without_event_);
}

bool SysmonDecoder::load(std::string_view in) {
  BinaryReader reader(in);
  return reader.get(without_event_) && reader.at_end();
}

}  // namespace pickaxe::source
