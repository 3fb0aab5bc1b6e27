#include "source/auditd/auditd.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <set>

#include <arpa/inet.h>
#include <fmt/format.h>

#include "event/patterns.h"
#include "source/common.h"
#include "util/binary_io.h"
#include "util/strings.h"

namespace pickaxe::source {

namespace {

struct NamedNumber {
  int number;
  const char* name;
};
#include "source/auditd/audit_tables.inc"

template <size_t N>
std::string_view lookup(const NamedNumber (&table)[N], int64_t number) {
  auto it = std::lower_bound(std::begin(table), std::end(table), number,
                             [](const NamedNumber& entry, int64_t n) { return entry.number < n; });
  if (it != std::end(table) && it->number == number) return it->name;
  return {};
}

// ---------------------------------------------------------------------------
// Record parsing

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Keys whose values auditd writes hex-encoded when they hold spaces, quotes
// or control characters (an unquoted value of such a key is hex). In EXECVE
// records the arguments a0, a1[2]... are too; elsewhere aN are registers.
bool may_be_hex(std::string_view type, std::string_view key) {
  static const std::set<std::string_view> keys = {
      "exe",  "cmd",  "comm", "cwd",   "data",      "dir",       "file",     "key",
      "name", "new",  "old",  "path",  "ocomm",     "proctitle", "root_dir", "sw",
      "vm",   "acct", "grp",  "watch", "new_group", "old_group"};
  if (keys.count(key)) return true;
  if (type != "EXECVE") return false;
  if (key.size() < 2 || key[0] != 'a' || !std::isdigit(static_cast<unsigned char>(key[1])))
    return false;
  size_t i = 1;
  while (i < key.size() && std::isdigit(static_cast<unsigned char>(key[i]))) ++i;
  return i == key.size() || key[i] == '[';
}

bool all_hex(std::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), is_hex_digit);
}

bool all_upper_hex(std::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
  });
}

bool needs_encoding(std::string_view bytes) {
  return std::any_of(bytes.begin(), bytes.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte < 0x21 || byte == '"' || byte >= 0x7f;
  });
}

std::string decode_hex(std::string_view value) {
  std::string out;
  out.reserve(value.size() / 2);
  for (size_t i = 0; i + 1 < value.size(); i += 2)
    out += static_cast<char>(hex_value(value[i]) * 16 + hex_value(value[i + 1]));
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\x1d' || c == '\r';
}

// Parses `key=value` pairs; bare words between them are skipped. A quoted
// value that does not end means the record was cut short (a flaw).
bool parse_fields(std::string_view body, AuditRecord& record, std::string& error,
                  std::vector<std::string>& flaws, int depth = 0) {
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && is_space(body[i])) ++i;
    if (i >= body.size()) break;
    size_t start = i;
    while (i < body.size() && !is_space(body[i]) && body[i] != '=') ++i;
    if (i >= body.size() || body[i] != '=') {
      // A bare word; AVC records say "denied" or "granted" this way.
      std::string_view word = body.substr(start, i - start);
      if ((word == "denied" || word == "granted") && record.type.find("AVC") != std::string::npos &&
          !record.find("seresult"))
        record.fields.emplace_back("seresult", std::string(word));
      continue;
    }
    std::string_view key = body.substr(start, i - start);
    ++i;
    if (i < body.size() && (body[i] == '"' || body[i] == '\'')) {
      char quote = body[i];
      size_t end = body.find(quote, i + 1);
      if (end == std::string_view::npos) {
        // Cut short: the value runs to the end of the line, as go-libaudit reads it.
        flaws.push_back(fmt::format("the value of {} has no closing {}; the record is cut short",
                                    key, quote == '"' ? "quote" : "apostrophe"));
        end = body.size();
      }
      std::string_view value = body.substr(i + 1, end - i - 1);
      i = std::min(end + 1, body.size());
      // msg='op=... acct="root" ...' from user space: its pairs belong to the record.
      if (quote == '\'' && key == "msg" && depth == 0) {
        if (!parse_fields(value, record, error, flaws, depth + 1)) return false;
        continue;
      }
      record.fields.emplace_back(std::string(key), std::string(value));
      continue;
    }
    size_t end = i;
    while (end < body.size() && !is_space(body[end])) ++end;
    // "(null)" glued to the next pair when an enriched log lost its 0x1D separator.
    if (body.substr(i).starts_with("(null)") && end > i + 6) end = i + 6;
    std::string_view value = body.substr(i, end - i);
    i = end;
    bool piece = record.type == "EXECVE" && key.find('[') != std::string_view::npos;
    if (piece && all_upper_hex(value) && value.size() % 2 == 0) {
      // Pieces of a long argument (a1[0]=...) are always hex.
      record.fields.emplace_back(std::string(key), decode_hex(value));
      continue;
    }
    if (may_be_hex(record.type, key) && all_upper_hex(value)) {
      // auditd quotes plain strings, so an unquoted hex value is encoded. old=
      // and new= also carry numbers (old=64): those are hex only when the
      // bytes hold what auditd encodes (a space, a quote, a control character).
      bool numeric_too = key == "old" || key == "new";
      if (value.size() % 2 == 0) {
        std::string decoded = decode_hex(value);
        if (!numeric_too || needs_encoding(decoded)) {
          record.fields.emplace_back(std::string(key), std::move(decoded));
          continue;
        }
      } else if (value.find_first_of("ABCDEF") != std::string_view::npos) {
        flaws.push_back(fmt::format("{} is hex of odd length; kept as written", key));
      }
    } else if (key == "proctitle" && value != "(null)") {
      // auditd writes a process title quoted or in hex, never bare.
      flaws.push_back("proctitle is neither quoted nor hex; kept as written");
    }
    record.fields.emplace_back(std::string(key), std::string(value));
  }
  return true;
}

// "1611091464.740" -> nanoseconds
std::optional<int64_t> parse_audit_time(std::string_view text) {
  size_t dot = text.find('.');
  int64_t seconds = 0, fraction = 0;
  std::string_view whole = text.substr(0, dot);
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc() || end != whole.data() + whole.size() || whole.empty()) return std::nullopt;
  if (seconds < 0 || seconds > 9'000'000'000) return std::nullopt;
  int64_t scale = 100'000'000;
  if (dot != std::string_view::npos) {
    std::string_view digits = text.substr(dot + 1);
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    for (char c : digits) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      fraction += (c - '0') * scale;
      scale /= 10;
    }
  }
  return seconds * 1'000'000'000 + fraction;
}

std::optional<int64_t> to_int(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

const std::string* AuditRecord::find(std::string_view key) const {
  for (const auto& [name, value] : fields)
    if (name == key) return &value;
  return nullptr;
}

std::optional<AuditRecord> parse_audit_record(std::string_view line, std::string& error,
                                              std::vector<std::string>& flaws) {
  AuditRecord record;
  // `type=` starts the record; what comes before is node= or a syslog prefix.
  size_t type_at = line.find("type=");
  while (type_at != std::string_view::npos && type_at > 0 && !is_space(line[type_at - 1]))
    type_at = line.find("type=", type_at + 1);
  if (type_at == std::string_view::npos) {
    error = "not an audit record: no type=";
    return std::nullopt;
  }
  std::string_view prefix = line.substr(0, type_at);
  if (size_t node = prefix.find("node="); node != std::string_view::npos) {
    std::string_view rest = prefix.substr(node + 5);
    record.node = std::string(rest.substr(0, rest.find_first_of(" \t")));
  }
  std::string_view rest = line.substr(type_at + 5);
  size_t type_end = rest.find_first_of(" \t");
  record.type = std::string(rest.substr(0, type_end));
  if (record.type.empty() || type_end == std::string_view::npos) {
    error = "record without msg=audit(...)";
    return std::nullopt;
  }
  rest = rest.substr(type_end);
  size_t msg = rest.find("msg=audit(");
  size_t close = msg == std::string_view::npos ? msg : rest.find(')', msg);
  if (msg == std::string_view::npos || close == std::string_view::npos) {
    error = fmt::format("{} record without a complete msg=audit(TIME:SERIAL)", record.type);
    return std::nullopt;
  }
  std::string_view stamp = rest.substr(msg + 10, close - msg - 10);
  size_t colon = stamp.find(':');
  auto nanos =
      colon == std::string_view::npos ? std::nullopt : parse_audit_time(stamp.substr(0, colon));
  auto serial = colon == std::string_view::npos ? std::nullopt : to_int(stamp.substr(colon + 1));
  if (!nanos || !serial || *serial < 0) {
    error = fmt::format("msg=audit({}) is not TIME:SERIAL", stamp);
    return std::nullopt;
  }
  record.nanos = *nanos;
  record.serial = static_cast<uint64_t>(*serial);
  std::string_view body = rest.substr(close + 1);
  if (!body.empty() && body.front() == ':') body.remove_prefix(1);
  if (!parse_fields(body, record, error, flaws)) return std::nullopt;
  return record;
}

std::string_view arch_name(std::string_view arch) {
  if (arch == "c000003e") return "x86_64";
  if (arch == "40000003") return "i386";
  if (arch == "c00000b7") return "aarch64";
  return arch;
}

std::string_view syscall_name(std::string_view arch, int64_t number) {
  std::string_view name = arch_name(arch);
  if (name == "x86_64") return lookup(kSyscallsX86_64, number);
  if (name == "i386") return lookup(kSyscallsI386, number);
  if (name == "aarch64") return lookup(kSyscallsAarch64, number);
  return {};
}

namespace {

// ---------------------------------------------------------------------------
// Normalisation: event.action, category and type per syscall and per record
// type, after go-libaudit's table that Auditbeat applies.

struct Normalization {
  std::string_view action;
  std::vector<std::string_view> category;
  std::vector<std::string_view> type;
  int path_index = -1;  // the PATH item that is the file acted on
  bool alert = false;   // event.kind: alert
};

const Normalization* syscall_normalization(std::string_view syscall) {
  static const std::vector<std::pair<std::vector<std::string_view>, Normalization>> table = {
      {{"execve", "execveat"}, {"executed", {"process"}, {"start"}}},
      {{"connect"}, {"connected-to", {"network"}, {"connection", "start"}}},
      {{"accept", "accept4"}, {"accepted-connection-from", {"network"}, {"connection", "start"}}},
      {{"bind"}, {"bound-socket", {"network"}, {"start"}}},
      {{"listen"}, {"listen-for-connections", {"network"}, {"start"}}},
      {{"send", "sendto", "sendmsg", "sendmmsg"}, {"sent-to", {"network"}, {"connection", "info"}}},
      {{"recv", "recvfrom", "recvmsg", "recvmmsg"},
       {"received-from", {"network"}, {"connection", "info"}}},
      {{"creat"}, {"opened-file", {"file"}, {"creation"}}},
      {{"fallocate", "truncate", "ftruncate"}, {"opened-file", {"file"}, {"change"}}},
      {{"open", "openat", "openat2", "readlink", "readlinkat"},
       {"opened-file", {"file"}, {"info"}}},
      {{"read"}, {"read-file", {"file"}, {"info"}}},
      {{"write"}, {"wrote-to-file", {"file"}, {"change"}}},
      {{"setxattr", "fsetxattr", "lsetxattr", "removexattr", "fremovexattr", "lremovexattr"},
       {"changed-file-attributes-of", {"file"}, {"change"}}},
      {{"chmod", "fchmod", "fchmodat", "fchmodat2"},
       {"changed-file-permissions-of", {"file"}, {"change"}}},
      {{"chown", "fchown", "fchownat", "lchown"},
       {"changed-file-ownership-of", {"file"}, {"change"}}},
      {{"init_module", "finit_module"}, {"loaded-kernel-module", {"driver"}, {"start"}}},
      {{"delete_module"}, {"unloaded-kernel-module", {"driver"}, {"end"}}},
      {{"mkdir", "mkdirat"}, {"created-directory", {"file"}, {"creation"}, 1}},
      {{"mount"}, {"mounted", {"file"}, {"creation"}, 1}},
      {{"rename", "renameat", "renameat2"}, {"renamed", {"file"}, {"change"}, 2}},
      {{"access", "faccessat", "faccessat2", "fstatat", "newfstatat", "stat", "stat64", "fstat",
        "lstat", "getxattr", "lgetxattr", "fgetxattr"},
       {"checked-metadata-of", {"file"}, {"info"}}},
      {{"statfs", "fstatfs"}, {"checked-filesystem-metadata-of", {"file"}, {"info"}}},
      {{"symlink", "symlinkat"}, {"symlinked", {"file"}, {"creation"}}},
      {{"link", "linkat"}, {"linked", {"file"}, {"creation"}}},
      {{"umount", "umount2"}, {"unmounted", {"file"}, {"deletion"}}},
      {{"rmdir", "unlink", "unlinkat"}, {"deleted", {"file"}, {"deletion"}}},
      {{"utime", "utimes", "futimesat", "futimens", "utimensat"},
       {"changed-timestamp-of", {"file"}, {"info"}}},
      {{"kill", "tkill", "tgkill"}, {"killed-pid", {"process"}, {"end"}}},
      {{"setuid", "seteuid", "setfsuid", "setreuid", "setgid", "setegid", "setfsgid", "setregid",
        "setresuid", "setresgid"},
       {"changed-identity-of", {"process"}, {"change"}}},
      {{"settimeofday", "clock_settime", "stime", "adjtimex", "clock_adjtime"},
       {"changed-system-time", {"host"}, {"change"}}},
      {{"mknod", "mknodat"}, {"make-device", {"file"}, {"creation"}}},
      {{"sethostname", "setdomainname"}, {"changed-system-name", {"host"}, {"change"}}},
      {{"mmap", "mmap2", "brk"}, {"allocated-memory", {"process"}, {"info"}}},
      {{"sched_setparam", "sched_setscheduler", "sched_setattr"},
       {"adjusted-scheduling-policy-of", {"process"}, {"change"}}},
      {{"ptrace"}, {"", {"process"}, {"access"}}},
  };
  for (const auto& [names, normalization] : table)
    if (std::find(names.begin(), names.end(), syscall) != names.end()) return &normalization;
  return nullptr;
}

const Normalization* record_normalization(std::string_view type) {
  static const std::map<std::string_view, Normalization> table = {
      {"USER_CMD", {"ran-command", {"process"}, {"start"}}},
      {"CRYPTO_SESSION", {"started-crypto-session", {"process"}, {"info"}}},
      {"CRYPTO_KEY_USER", {"negotiated-crypto-key", {"process"}, {"info"}}},
      {"LOGIN", {"changed-login-id-to", {"authentication"}, {"start"}}},
      {"USER_LOGIN", {"logged-in", {"authentication"}, {"start"}}},
      {"USER_LOGOUT", {"logged-out", {"authentication"}, {"end"}}},
      {"USER_AUTH", {"authenticated", {"authentication"}, {"info"}}},
      {"USER_ACCT", {"was-authorized", {"authentication"}, {"info"}}},
      {"USER_ERR", {"error", {"authentication"}, {"info"}}},
      {"CRED_ACQ", {"acquired-credentials", {"authentication"}, {"info"}}},
      {"CRED_DISP", {"disposed-credentials", {"authentication"}, {"info"}}},
      {"CRED_REFR", {"refreshed-credentials", {"authentication"}, {"info"}}},
      {"USER_START", {"started-session", {"session"}, {"start"}}},
      {"USER_END", {"ended-session", {"session"}, {"end"}}},
      {"USER_CHAUTHTOK", {"changed-password", {"iam"}, {"user", "change"}}},
      {"ADD_USER", {"added-user-account", {"iam"}, {"user", "creation"}}},
      {"DEL_USER", {"deleted-user-account", {"iam"}, {"user", "deletion"}}},
      {"USER_MGMT", {"modified-user-account", {"iam"}, {"user", "change"}}},
      {"ADD_GROUP", {"added-group-account-to", {"iam"}, {"group", "creation"}}},
      {"DEL_GROUP", {"deleted-group-account-from", {"iam"}, {"group", "deletion"}}},
      {"GRP_MGMT", {"modified-group-account", {"iam"}, {"group", "change"}}},
      {"SERVICE_START", {"started-service", {"process"}, {"start"}}},
      {"SERVICE_STOP", {"stopped-service", {"process"}, {"end"}}},
      {"DAEMON_START", {"started-audit", {"process"}, {"start"}}},
      {"DAEMON_END", {"stopped-audit", {"process"}, {"end"}}},
      {"CONFIG_CHANGE", {"changed-audit-configuration", {"process", "configuration"}, {"change"}}},
      {"KERN_MODULE", {"loaded-kernel-module", {"driver"}, {"start"}}},
      {"SYSTEM_BOOT", {"booted-system", {"host"}, {"info"}}},
      {"SYSTEM_SHUTDOWN", {"shutdown-system", {"host"}, {"info"}}},
      {"SYSTEM_RUNLEVEL", {"changed-to-runlevel", {"host"}, {"change"}}},
      {"VIRT_CONTROL", {"issued-vm-control", {"host"}, {"creation"}}},
      {"VIRT_MACHINE_ID", {"assigned-vm-id", {"host"}, {"creation"}}},
      {"TIME_INJOFFSET", {"changed-system-time", {"host"}, {"change"}}},
      {"TIME_ADJNTPVAL", {"changed-system-time", {"host"}, {"change"}}},
      {"NETFILTER_CFG", {"loaded-firewall-rule-to", {"configuration"}, {"change"}}},
      {"ANOM_ABEND",
       {"crashed-program", {"process", "intrusion_detection"}, {"end", "info"}, -1, true}},
      {"ANOM_PROMISCUOUS",
       {"changed-promiscuous-mode-on-device",
        {"intrusion_detection"},
        {"info", "change"},
        -1,
        true}},
      {"AVC", {"violated-selinux-policy", {}, {}}},
  };
  auto it = table.find(type);
  return it == table.end() ? nullptr : &it->second;
}

// Records that only add to a syscall event and are not events of their own.
bool is_auxiliary(std::string_view type) {
  static const std::set<std::string_view> types = {
      "SYSCALL",    "EXECVE",     "CWD",     "PATH",         "PROCTITLE", "SOCKADDR",
      "EOE",        "BPRM_FCAPS", "CAPSET",  "MMAP",         "FD_PAIR",   "OBJ_PID",
      "SOCKETCALL", "IPC",        "MQ_OPEN", "KERNEL_OTHER", "CKADDR",    "UNKNOWN"};
  return types.count(type) > 0;
}

// A decoded sockaddr: AF_INET and AF_INET6 give address and port, AF_UNIX a path.
struct SocketAddress {
  std::string family;
  std::string address;
  std::string path;
  int port = -1;
};

std::optional<SocketAddress> decode_sockaddr(std::string_view hex) {
  if (!all_hex(hex) || hex.size() % 2 != 0 || hex.size() < 4) return std::nullopt;
  std::string bytes = decode_hex(hex);
  auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  int family = byte(0) | (byte(1) << 8);  // host order, little-endian on x86_64 and aarch64
  SocketAddress out;
  if (family == 2 && bytes.size() >= 8) {
    out.family = "ipv4";
    out.port = (byte(2) << 8) | byte(3);
    out.address = fmt::format("{}.{}.{}.{}", byte(4), byte(5), byte(6), byte(7));
  } else if (family == 10 && bytes.size() >= 24) {
    out.family = "ipv6";
    out.port = (byte(2) << 8) | byte(3);
    char text[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(AF_INET6, bytes.data() + 8, text, sizeof(text))) return std::nullopt;
    out.address = text;
  } else if (family == 1) {
    out.family = "unix";
    std::string_view path = std::string_view(bytes).substr(2);
    if (!path.empty() && path.front() == '\0') {
      path.remove_prefix(1);  // abstract socket: shown with a leading @
      out.path = "@" + std::string(path.substr(0, path.find('\0')));
    } else {
      out.path = std::string(path.substr(0, path.find('\0')));
    }
  } else if (family == 16) {
    out.family = "netlink";
  } else {
    out.family = std::to_string(family);
  }
  return out;
}

bool unset_id(std::string_view value) {
  return value == "4294967295" || value == "-1";
}

// `account` (acct= of user-space messages) is user.effective.name, as go-libaudit maps it.
void write_user(JsonWriter& json, const AuditRecord& primary, const AuditRecord* enriched,
                const std::string* account) {
  // ECS user.* from the audit ids, names from an enriched log (UID="root").
  auto get = [&](std::string_view key) { return primary.find(key); };
  auto name = [&](std::string_view key) -> const std::string* {
    return enriched ? enriched->find(key) : nullptr;
  };
  auto id_pair = [&](std::string_view object, std::string_view uid, std::string_view gid,
                     const std::string* account_name) {
    const std::string* user = get(uid);
    const std::string* group = get(gid);
    bool has_user = user && !unset_id(*user), has_group = group && !unset_id(*group);
    if (!has_user && !has_group && !account_name) return;
    if (!object.empty()) json.key(object).begin_object();
    if (has_user) json.key("id").value(*user);
    if (account_name) json.key("name").value(valid_utf8(*account_name));
    // Enriched logs name the ids in upper case: UID="root".
    auto upper = [](std::string_view key) {
      std::string out(key);
      for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return out;
    };
    std::string upper_uid = upper(uid), upper_gid = upper(gid);
    if (const std::string* resolved = name(upper_uid); has_user && resolved && !account_name)
      json.key("name").value(valid_utf8(*resolved));
    if (has_group) {
      json.key("group").begin_object().key("id").value(*group);
      if (const std::string* resolved = name(upper_gid))
        json.key("name").value(valid_utf8(*resolved));
      json.end_object();
    }
    if (!object.empty()) json.end_object();
  };
  bool any = false;
  for (std::string_view key :
       {"uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid", "auid"}) {
    const std::string* value = get(key);
    any = any || (value && !unset_id(*value));
  }
  const std::string* terminal = get("terminal");
  if (terminal && *terminal == "?") terminal = nullptr;
  any = any || account || terminal;
  if (!any) return;
  json.key("user").begin_object();
  id_pair("", "uid", "gid", nullptr);
  id_pair("effective", "euid", "egid", account);
  id_pair("saved", "suid", "sgid", nullptr);
  id_pair("filesystem", "fsuid", "fsgid", nullptr);
  const std::string* audit_id = get("auid");
  if (audit_id && !unset_id(*audit_id)) {
    json.key("audit").begin_object().key("id").value(*audit_id);
    if (const std::string* resolved = name("AUID")) json.key("name").value(valid_utf8(*resolved));
    json.end_object();
  }
  if (terminal) json.key("terminal").value(valid_utf8(*terminal));
  json.end_object();
}

std::vector<std::string> split_keys(std::string_view keys) {
  // Several rule keys are joined by \x01; go-libaudit also strips a key= prefix.
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= keys.size()) {
    size_t end = keys.find('\x01', start);
    if (end == std::string_view::npos) end = keys.size();
    std::string_view key = keys.substr(start, end - start);
    if (key.starts_with("key=")) key.remove_prefix(4);
    if (!key.empty() && key != "(null)") out.emplace_back(key);
    start = end + 1;
  }
  return out;
}

std::string file_mode(std::string_view mode) {
  // "0100755" -> "0755"
  auto value = 0;
  auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), value, 8);
  if (ec != std::errc() || end != mode.data() + mode.size()) return std::string(mode);
  return fmt::format("{:04o}", value & 07777);
}

}  // namespace

std::string audit_event_to_ecs(const std::vector<AuditRecord>& records) {
  const AuditRecord* syscall = nullptr;
  const AuditRecord* execve = nullptr;
  const AuditRecord* cwd = nullptr;
  const AuditRecord* proctitle = nullptr;
  const AuditRecord* sockaddr = nullptr;
  const AuditRecord* own = nullptr;  // a record with a normalisation of its own (USER_LOGIN...)
  std::vector<const AuditRecord*> paths;
  for (const AuditRecord& record : records) {
    const std::string& type = record.type;
    if (type == "SYSCALL" && !syscall)
      syscall = &record;
    else if (type == "EXECVE" && !execve)
      execve = &record;
    else if (type == "CWD" && !cwd)
      cwd = &record;
    else if (type == "PROCTITLE" && !proctitle)
      proctitle = &record;
    else if (type == "SOCKADDR" && !sockaddr)
      sockaddr = &record;
    else if (type == "PATH")
      paths.push_back(&record);
    else if (!own && !is_auxiliary(type))
      own = &record;
  }
  const AuditRecord& first = records.front();
  const AuditRecord& primary = syscall ? *syscall : own ? *own : first;
  auto get = [&](std::string_view key) -> const std::string* {
    if (const std::string* value = primary.find(key)) return value;
    if (own && own != &primary) return own->find(key);
    return nullptr;
  };

  std::string arch, syscall_text;
  if (const std::string* value = get("arch")) arch = std::string(arch_name(*value));
  if (const std::string* value = get("syscall")) {
    const std::string* raw_arch = get("arch");
    if (auto number = to_int(*value); number && raw_arch)
      syscall_text = std::string(syscall_name(*raw_arch, *number));
    if (syscall_text.empty()) syscall_text = *value;
  }
  if (const std::string* enriched = get("SYSCALL")) syscall_text = *enriched;
  if (arch.empty())
    if (const std::string* enriched = get("ARCH")) arch = *enriched;

  const Normalization* by_syscall =
      syscall_text.empty() ? nullptr : syscall_normalization(syscall_text);
  static const Normalization catch_all{"", {"process"}, {"info"}};
  if (!by_syscall && syscall) by_syscall = &catch_all;
  const Normalization* by_record = own ? record_normalization(own->type) : nullptr;

  std::string action;
  if (by_record && !by_record->action.empty()) action = std::string(by_record->action);
  if (own && own->type == "AVC" && get("apparmor")) action = "violated-apparmor-policy";
  if (action.empty() && by_syscall && !by_syscall->action.empty())
    action = std::string(by_syscall->action);
  if (action.empty()) action = to_lower(own ? own->type : primary.type);
  std::vector<std::string_view> categories, types;
  for (const Normalization* n : {by_record, by_syscall}) {
    if (!n) continue;
    for (auto c : n->category)
      if (std::find(categories.begin(), categories.end(), c) == categories.end())
        categories.push_back(c);
    for (auto t : n->type)
      if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
  }

  // Outcome: success=yes/no on syscalls, res= on user-space messages.
  std::string_view result;
  if (const std::string* success = get("success"))
    result = *success == "yes" ? "success" : "fail";
  else if (const std::string* seresult = get("seresult"))
    result = *seresult == "granted" ? "success" : "fail";
  else if (const std::string* res = get("res"))
    result = (*res == "success" || *res == "1")  ? "success"
             : (*res == "failed" || *res == "0") ? "fail"
                                                 : "unknown";
  else
    result = "unknown";

  // Socket: the decoded SOCKADDR, or addr= on user-space logins.
  std::optional<SocketAddress> socket;
  if (sockaddr)
    if (const std::string* saddr = sockaddr->find("saddr")) socket = decode_sockaddr(*saddr);
  bool egress = syscall_text == "connect" || syscall_text.starts_with("send");
  bool ingress = syscall_text.starts_with("accept") || syscall_text.starts_with("recv");

  JsonWriter json;
  json.begin_object();
  json.key("@timestamp").value(format_timestamp(first.nanos - first.nanos % 1'000'000));
  json.key("event").begin_object();
  json.key("action").value(valid_utf8(action));
  if (!categories.empty()) {
    json.key("category").begin_array();
    for (auto c : categories) json.value(c);
    json.end_array();
  }
  if (!types.empty()) {
    json.key("type").begin_array();
    for (auto t : types) json.value(t);
    json.end_array();
  }
  json.key("kind").value((by_record && by_record->alert) ? "alert" : "event");
  if (result != "unknown") json.key("outcome").value(result == "success" ? "success" : "failure");
  json.key("sequence").value(static_cast<int64_t>(first.serial));
  close_event(json, "auditd_manager.auditd", "auditd");

  if (!first.node.empty())
    json.key("host").begin_object().key("name").value(valid_utf8(first.node)).end_object();

  // process.*
  const std::string* directory = cwd ? cwd->find("cwd") : get("cwd");
  bool has_process = execve || proctitle || directory || get("pid") || get("ppid") || get("comm") ||
                     get("exe") || (own && own->type == "USER_CMD");
  if (has_process) json.key("process").begin_object();
  if (const std::string* pid = get("pid"); pid && to_int(*pid))
    json.key("pid").value(*to_int(*pid));
  if (const std::string* ppid = get("ppid"); ppid && to_int(*ppid))
    json.key("parent").begin_object().key("pid").value(*to_int(*ppid)).end_object();
  if (const std::string* comm = get("comm"); comm && *comm != "?")
    json.key("name").value(valid_utf8(*comm));
  if (const std::string* exe = get("exe"); exe && *exe != "?" && *exe != "(null)")
    json.key("executable").value(valid_utf8(*exe));
  if (execve) {
    // a0="x" or split arguments: a1_len=N a1[0]=... a1[1]=...
    std::map<int64_t, std::string> args;
    for (const auto& [key, value] : execve->fields) {
      if (key.size() < 2 || key[0] != 'a' || !std::isdigit(static_cast<unsigned char>(key[1])))
        continue;
      size_t digits = 1;
      while (digits < key.size() && std::isdigit(static_cast<unsigned char>(key[digits]))) ++digits;
      auto index = to_int(std::string_view(key).substr(1, digits - 1));
      if (!index || *index > 1'000'000) continue;
      if (digits == key.size() || key[digits] == '[') args[*index] += value;
    }
    json.key("args").begin_array();
    for (const auto& [index, value] : args) json.value(valid_utf8(value));
    json.end_array();
    // The command line as Elastic Defend gives it: the arguments joined by spaces.
    std::string command_line;
    for (const auto& [index, value] : args) {
      if (!command_line.empty()) command_line += ' ';
      command_line += value;
    }
    json.key("command_line").value(valid_utf8(command_line));
    const std::string* argc = execve->find("argc");
    int64_t count = argc && to_int(*argc) ? *to_int(*argc) : static_cast<int64_t>(args.size());
    json.key("args_count").value(count);
  } else if (const std::string* cmd = get("cmd"); cmd && own && own->type == "USER_CMD") {
    json.key("args").begin_array();
    for (size_t start = 0; start < cmd->size();) {
      size_t end = cmd->find(' ', start);
      if (end == std::string::npos) end = cmd->size();
      if (end > start) json.value(valid_utf8(std::string_view(*cmd).substr(start, end - start)));
      start = end + 1;
    }
    json.end_array();
    json.key("command_line").value(valid_utf8(*cmd));
  }
  if (proctitle) {
    if (const std::string* title = proctitle->find("proctitle")) {
      std::string text = *title;
      while (!text.empty() && text.back() == '\0') text.pop_back();
      std::replace(text.begin(), text.end(), '\0', ' ');
      json.key("title").value(valid_utf8(text));
    }
  }
  if (directory) json.key("working_directory").value(valid_utf8(*directory));
  if (has_process) json.end_object();

  const AuditRecord* enriched = get("UID") || get("AUID") ? &primary : nullptr;
  const std::string* account = get("acct");
  if (account && (*account == "?" || *account == "(unknown)")) account = nullptr;
  write_user(json, primary, enriched, account);

  // file.* for file events: the PATH item acted on.
  bool file_event = std::find(categories.begin(), categories.end(), "file") != categories.end() ||
                    syscall_text.starts_with("execve");
  if (file_event && !paths.empty()) {
    const AuditRecord* path = nullptr;
    int wanted = by_syscall ? by_syscall->path_index : -1;
    for (const AuditRecord* candidate : paths) {
      const std::string* item = candidate->find("item");
      if (wanted >= 0 && item && to_int(*item) == wanted) path = candidate;
    }
    if (!path)
      for (const AuditRecord* candidate : paths) {
        const std::string* nametype = candidate->find("nametype");
        if (!nametype || *nametype != "PARENT") {
          path = candidate;
          break;
        }
      }
    if (!path) path = paths.front();
    json.key("file").begin_object();
    if (const std::string* name = path->find("name"); name && *name != "(null)")
      json.key("path").value(valid_utf8(*name));
    if (const std::string* inode = path->find("inode")) json.key("inode").value(*inode);
    if (const std::string* mode = path->find("mode")) json.key("mode").value(file_mode(*mode));
    if (const std::string* uid = path->find("ouid")) json.key("uid").value(*uid);
    if (const std::string* gid = path->find("ogid")) json.key("gid").value(*gid);
    if (const std::string* device = path->find("rdev")) json.key("device").value(*device);
    json.end_object();
  }

  // Network: destination for outgoing syscalls, source for incoming ones.
  if (socket && !socket->address.empty() && (egress || ingress)) {
    json.key(egress ? "destination" : "source").begin_object();
    json.key("ip").value(socket->address);
    if (socket->port >= 0) json.key("port").value(static_cast<int64_t>(socket->port));
    json.end_object();
  }
  // User-space messages from a remote peer (logins, SSH sessions): addr=,
  // rport= and hostname= are the peer, laddr= and lport= this host.
  auto port_of = [&](std::string_view key) -> std::optional<int64_t> {
    const std::string* value = get(key);
    auto number = value ? to_int(*value) : std::nullopt;
    return number && *number >= 0 && *number <= 65535 ? number : std::nullopt;
  };
  const std::string* peer = get("addr");
  if (!peer || !parse_ip(*peer)) peer = get("src");
  if (!socket && peer && parse_ip(*peer)) {
    json.key("source").begin_object().key("ip").value(*peer);
    if (auto port = port_of("rport")) json.key("port").value(*port);
    const std::string* host = get("hostname");
    if (host && *host != "?" && *host != *peer && !host->empty())
      json.key("domain").value(valid_utf8(*host));
    json.end_object();
    if (!egress && get("addr")) ingress = true;
  }
  const std::string* local = get("laddr");
  if (!local || !parse_ip(*local)) local = get("dst");
  if (!socket && local && parse_ip(*local)) {
    json.key("destination").begin_object().key("ip").value(*local);
    if (auto port = port_of("lport")) json.key("port").value(*port);
    json.end_object();
  }
  if (egress || ingress) {
    json.key("network").begin_object().key("direction").value(egress ? "egress" : "ingress");
    if (socket && (socket->family == "ipv4" || socket->family == "ipv6"))
      json.key("type").value(socket->family);
    json.end_object();
  }

  std::vector<std::string> tags;
  for (const AuditRecord& record : records)
    if (const std::string* key = record.find("key"))
      for (std::string& tag : split_keys(*key))
        if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
  if (!tags.empty()) {
    json.key("tags").begin_array();
    for (const std::string& tag : tags) json.value(valid_utf8(tag));
    json.end_array();
  }

  // auditd.*: what the normalised fields leave out.
  json.key("auditd").begin_object();
  json.key("message_type").value(to_lower(primary.type));
  json.key("sequence").value(static_cast<int64_t>(first.serial));
  if (!result.empty()) json.key("result").value(result);
  if (const std::string* session = get("ses"))
    json.key("session").value(unset_id(*session) ? "unset" : *session);
  if (!action.empty())
    json.key("summary").begin_object().key("action").value(valid_utf8(action)).end_object();
  json.key("data").begin_object();
  static const std::set<std::string_view> mapped = {
      "pid",   "ppid", "comm", "exe",     "uid", "gid", "euid", "egid", "suid",    "sgid", "fsuid",
      "fsgid", "auid", "ses",  "success", "res", "key", "cwd",  "arch", "syscall", "subj", "msg"};
  std::set<std::string> written;
  auto data_field = [&](const std::string& key, const std::string& value) {
    if (mapped.count(key) || !written.insert(key).second) return;
    if (key.empty() || std::isupper(static_cast<unsigned char>(key[0]))) return;  // enriched names
    json.key(valid_utf8(key)).value(valid_utf8(value));
  };
  if (!arch.empty()) {
    json.key("arch").value(arch);
    written.insert("arch");
  }
  if (!syscall_text.empty()) {
    json.key("syscall").value(valid_utf8(syscall_text));
    written.insert("syscall");
  }
  if (const std::string* exit = get("exit")) {
    auto code = to_int(*exit);
    std::string_view name = code && *code < 0 ? lookup(kErrnoNames, -*code) : std::string_view{};
    json.key("exit").value(name.empty() ? *exit : std::string(name));
    written.insert("exit");
  }
  if (socket) {
    json.key("socket").begin_object().key("family").value(socket->family);
    if (!socket->address.empty()) json.key("addr").value(socket->address);
    if (socket->port >= 0) json.key("port").value(std::to_string(socket->port));
    if (!socket->path.empty()) json.key("path").value(valid_utf8(socket->path));
    json.key("saddr").value(valid_utf8(*sockaddr->find("saddr")));
    json.end_object();
  }
  for (const AuditRecord* record : {&primary, own}) {
    if (!record) continue;
    for (const auto& [key, value] : record->fields) data_field(key, value);
  }
  json.end_object();
  if (!paths.empty()) {
    json.key("paths").begin_array();
    for (const AuditRecord* path : paths) {
      json.begin_object();
      for (const auto& [key, value] : path->fields)
        json.key(valid_utf8(key)).value(valid_utf8(value));
      json.end_object();
    }
    json.end_array();
  }
  json.end_object();
  json.end_object();
  // Raw bytes of the log are not always UTF-8; the document always is.
  return valid_utf8(json.str());
}

// ---------------------------------------------------------------------------
// Joining records into events

AuditdDecoder::AuditdDecoder(Emit emit, Problem problem, int64_t timeout_nanos, size_t max_pending)
    : emit_(std::move(emit)),
      problem_(std::move(problem)),
      timeout_(timeout_nanos),
      max_pending_(max_pending) {}

void AuditdDecoder::add_line(std::string_view text, uint64_t number) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::string_view content = trim(text);
  // ausearch output separates events with ---- and time-> lines.
  if (content.empty() || content == "----" || content.starts_with("time->")) return;
  std::string error;
  std::vector<std::string> flaws;
  auto record = parse_audit_record(content, error, flaws);
  if (!record) {
    problem_(number, error + "; record skipped", true);
    return;
  }
  if (!flaws.empty()) {
    ++flawed_;
    for (const std::string& flaw : flaws)
      problem_(number, fmt::format("{} record: {}", record->type, flaw), false);
  }
  record->line = number;
  // A record dated far ahead (a clock error) does not move the time that
  // ends the other events.
  if (newest_ == 0 || record->nanos - newest_ <= kFutureLimit)
    newest_ = std::max(newest_, record->nanos);
  Key key{record->node, record->serial, record->nanos};
  if (record->type == "EOE") {
    if (pending_.count(key)) complete(key, true);
  } else {
    auto [it, inserted] = pending_.try_emplace(key);
    if (inserted) arrival_.push_back(key);
    if (it->second.records.size() >= kMaxRecords) {
      problem_(number,
               fmt::format("{} record skipped: its event already has {} records, the most one "
                           "event may have",
                           record->type, kMaxRecords),
               true);
      return;
    }
    it->second.records.push_back(std::move(*record));
  }
  // Keys of completed events wait in arrival_ until they reach its front:
  // when they pile up behind an old open event, they go.
  if (arrival_.size() > 2 * max_pending_ + 64) {
    std::deque<Key> open;
    for (Key& waiting : arrival_)
      if (pending_.count(waiting)) open.push_back(std::move(waiting));
    arrival_ = std::move(open);
  }
  // Events open for longer than the timeout, or too many open: end them.
  while (!arrival_.empty()) {
    auto it = pending_.find(arrival_.front());
    if (it == pending_.end()) {
      arrival_.pop_front();
      continue;
    }
    bool stale = it->second.records.front().nanos + timeout_ < newest_;
    if (!stale && pending_.size() <= max_pending_) break;
    Key oldest = arrival_.front();
    arrival_.pop_front();
    complete(oldest, false);
  }
}

void AuditdDecoder::complete(const Key& key, bool saw_eoe) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return;
  std::vector<AuditRecord> records = std::move(it->second.records);
  pending_.erase(it);
  if (records.empty()) return;
  bool has_syscall = std::any_of(records.begin(), records.end(),
                                 [](const AuditRecord& r) { return r.type == "SYSCALL"; });
  if (!saw_eoe && has_syscall && records.size() > 1) ++without_eoe_;
  uint64_t line = records.front().line;
  emit_(audit_event_to_ecs(records), line);
}

void AuditdDecoder::finish() {
  while (!arrival_.empty()) {
    Key key = arrival_.front();
    arrival_.pop_front();
    complete(key, false);
  }
}

void AuditdDecoder::save(std::string& out) const {
  auto put_key = [&](const Key& key) {
    put_bytes(out, std::get<0>(key));
    put(out, std::get<1>(key));
    put(out, std::get<2>(key));
  };
  put(out, static_cast<uint64_t>(pending_.size()));
  for (const auto& [key, event] : pending_) {
    put_key(key);
    put(out, static_cast<uint64_t>(event.records.size()));
    for (const AuditRecord& record : event.records) {
      put_bytes(out, record.type);
      put_bytes(out, record.node);
      put(out, record.nanos);
      put(out, record.serial);
      put(out, record.line);
      put(out, static_cast<uint64_t>(record.fields.size()));
      for (const auto& [name, value] : record.fields) {
        put_bytes(out, name);
        put_bytes(out, value);
      }
    }
  }
  put(out, static_cast<uint64_t>(arrival_.size()));
  for (const Key& key : arrival_) put_key(key);
  put(out, newest_);
  put(out, flawed_);
  put(out, without_eoe_);
}

bool AuditdDecoder::load(std::string_view in) {
  BinaryReader reader(in);
  auto get_key = [&](Key& key) {
    return reader.bytes(std::get<0>(key)) && reader.get(std::get<1>(key)) &&
           reader.get(std::get<2>(key));
  };
  std::map<Key, Pending> pending;
  uint64_t events = 0;
  if (!reader.count(events, 24)) return false;
  for (uint64_t i = 0; i < events; ++i) {
    Key key;
    uint64_t records = 0;
    if (!get_key(key) || !reader.count(records, 48)) return false;
    Pending& event = pending[key];
    for (uint64_t j = 0; j < records; ++j) {
      AuditRecord record;
      uint64_t fields = 0;
      if (!reader.bytes(record.type) || !reader.bytes(record.node) || !reader.get(record.nanos) ||
          !reader.get(record.serial) || !reader.get(record.line) || !reader.count(fields, 16))
        return false;
      for (uint64_t k = 0; k < fields; ++k) {
        std::string name, value;
        if (!reader.bytes(name) || !reader.bytes(value)) return false;
        record.fields.emplace_back(std::move(name), std::move(value));
      }
      event.records.push_back(std::move(record));
    }
  }
  std::deque<Key> arrival;
  uint64_t keys = 0;
  if (!reader.count(keys, 24)) return false;
  for (uint64_t i = 0; i < keys; ++i) {
    Key key;
    if (!get_key(key)) return false;
    arrival.push_back(std::move(key));
  }
  if (!reader.get(newest_) || !reader.get(flawed_) || !reader.get(without_eoe_) || !reader.at_end())
    return false;
  pending_ = std::move(pending);
  arrival_ = std::move(arrival);
  return true;
}

}  // namespace pickaxe::source
