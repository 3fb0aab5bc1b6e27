#include "export/export.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "eql/printer.h"
#include "event/field_types.h"
#include "event/patterns.h"
#include "util/strings.h"

namespace pickaxe::exporter {

namespace {

using eql::Expr;
using eql::ExprKind;
using Table = std::vector<std::pair<std::string, std::string>>;

// Splunk's Common Information Model (Endpoint, Network Traffic, Network
// Resolution, Change): what Splunk's add-ons extract.
const Table kSplunk = {
    {"process.name", "process_name"},
    {"process.executable", "process_path"},
    {"process.command_line", "process"},
    {"process.args", "process"},
    {"process.pid", "process_id"},
    {"process.hash.sha256", "process_hash"},
    {"process.parent.name", "parent_process_name"},
    {"process.parent.executable", "parent_process_path"},
    {"process.parent.command_line", "parent_process"},
    {"process.parent.pid", "parent_process_id"},
    {"user.name", "user"},
    {"host.name", "dest"},
    {"destination.ip", "dest_ip"},
    {"destination.port", "dest_port"},
    {"destination.domain", "dest_host"},
    {"source.ip", "src_ip"},
    {"source.port", "src_port"},
    {"network.transport", "transport"},
    {"network.direction", "direction"},
    {"dns.question.name", "query"},
    {"dns.question.type", "record_type"},
    {"file.path", "file_path"},
    {"file.name", "file_name"},
    {"event.action", "action"},
    {"event.outcome", "status"},
    {"container.image.name", "container_image"},
};

// CloudTrail in Splunk (sourcetype aws:cloudtrail) keeps CloudTrail's own names.
const Table kSplunkCloudTrail = {
    {"event.provider", "eventSource"},      {"event.action", "eventName"},
    {"cloud.region", "awsRegion"},          {"cloud.account.id", "recipientAccountId"},
    {"source.address", "sourceIPAddress"},  {"user_agent.original", "userAgent"},
    {"user.name", "userIdentity.userName"}, {"aws.cloudtrail.error_code", "errorCode"},
};

// Microsoft Defender XDR tables in Sentinel, per table; ASIM for DNS.
const Table kKqlProcess = {
    {"process.name", "FileName"},
    {"process.executable", "FolderPath"},
    {"process.command_line", "ProcessCommandLine"},
    {"process.args", "ProcessCommandLine"},
    {"process.pid", "ProcessId"},
    {"process.hash.sha256", "SHA256"},
    {"process.parent.name", "InitiatingProcessFileName"},
    {"process.parent.executable", "InitiatingProcessFolderPath"},
    {"process.parent.command_line", "InitiatingProcessCommandLine"},
    {"process.parent.pid", "InitiatingProcessId"},
    {"user.name", "AccountName"},
    {"host.name", "DeviceName"},
};
const Table kKqlNetwork = {
    {"destination.ip", "RemoteIP"},
    {"destination.port", "RemotePort"},
    {"destination.domain", "RemoteUrl"},
    {"source.ip", "LocalIP"},
    {"source.port", "LocalPort"},
    {"network.transport", "Protocol"},
    {"process.name", "InitiatingProcessFileName"},
    {"process.executable", "InitiatingProcessFolderPath"},
    {"process.command_line", "InitiatingProcessCommandLine"},
    {"user.name", "InitiatingProcessAccountName"},
    {"host.name", "DeviceName"},
};
const Table kKqlFile = {
    {"file.path", "FolderPath"},
    {"file.name", "FileName"},
    {"process.name", "InitiatingProcessFileName"},
    {"process.executable", "InitiatingProcessFolderPath"},
    {"process.command_line", "InitiatingProcessCommandLine"},
    {"user.name", "InitiatingProcessAccountName"},
    {"host.name", "DeviceName"},
};
const Table kKqlDns = {
    {"dns.question.name", "DnsQuery"},  {"dns.question.type", "DnsQueryTypeName"},
    {"source.ip", "SrcIpAddr"},         {"destination.ip", "DstIpAddr"},
    {"process.name", "SrcProcessName"}, {"host.name", "Dvc"},
};
const Table kKqlCloudTrail = {
    {"event.provider", "EventSource"},
    {"event.action", "EventName"},
    {"cloud.region", "AWSRegion"},
    {"source.address", "SourceIpAddress"},
    {"user_agent.original", "UserAgent"},
    {"user.name", "UserIdentityUserName"},
    {"aws.cloudtrail.error_code", "ErrorCode"},
};

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

bool has_wildcard(std::string_view text) {
  return text.find_first_of("*?") != std::string_view::npos;
}

// An expression and how tightly it binds: 0 or, 1 and, 2 not, 3 atom.
struct Text {
  std::string text;
  int level = 3;
};

class Writer {
 public:
  Writer(Target target, const Table& table, Diagnostics& diagnostics)
      : target_(target), table_(table), diagnostics_(diagnostics) {}

  std::string field(const std::string& ecs) const {
    for (const auto& [from, to] : table_)
      if (from == ecs) return to;
    // A name the table does not know stays ECS; KQL quotes a dotted one.
    if (target_ == Target::Kql && ecs.find('.') != std::string::npos) return "['" + ecs + "']";
    return ecs;
  }

  bool ok() const { return ok_; }

  std::optional<Text> expr(const Expr& e) {
    switch (e.kind) {
      case ExprKind::And:
      case ExprKind::Or: {
        const bool is_and = e.kind == ExprKind::And;
        std::string glue =
            target_ == Target::Kql ? (is_and ? " and " : " or ") : (is_and ? " AND " : " OR ");
        Text out{{}, is_and ? 1 : 0};
        for (size_t i = 0; i < e.args.size(); ++i) {
          auto part = expr(*e.args[i]);
          if (!part) return std::nullopt;
          out.text += (i ? glue : "") + wrap(*part, out.level + 1);
        }
        return out;
      }
      case ExprKind::Not: {
        auto inner = expr(*e.args[0]);
        if (!inner) return std::nullopt;
        return negate(*inner, e.args[0].get());
      }
      case ExprKind::Field:
        return compare_literal(e.name, eql::CompareOp::Equal, eql::Value::of_bool(true), e);
      case ExprKind::Compare: return compare(e);
      case ExprKind::In: return in(e);
      case ExprKind::Match: return match(e);
      case ExprKind::Call: return call(e);
      case ExprKind::Literal:
        if (e.literal.type == eql::Value::Type::Bool)
          return Text{target_ == Target::Spl ? (e.literal.boolean ? "*" : "NOT *")
                                             : (e.literal.boolean ? "true" : "false")};
        [[fallthrough]];
      default: return fail(e, "this expression has no form here");
    }
  }

 private:
  static std::string wrap(const Text& text, int at_least) {
    return text.level < at_least ? "(" + text.text + ")" : text.text;
  }

  std::nullopt_t fail(const Expr& at, std::string message) {
    static const char* names[] = {"ES|QL", "SPL", "KQL"};
    diagnostics_.error("export", at.span,
                       fmt::format("{}: {}", names[static_cast<int>(target_)], message));
    ok_ = false;
    return std::nullopt;
  }

  // EQL's `not` is null where its operand is null; ES|QL's and KQL's are
  // too. SPL's NOT matches events without the field, so the fields under it
  // must exist.
  Text negate(const Text& inner, const Expr* operand) {
    switch (target_) {
      case Target::Esql: return {"NOT " + wrap(inner, 2), 2};
      case Target::Kql: return {"not(" + inner.text + ")", 3};
      case Target::Spl: {
        std::vector<std::string> exists;
        eql::walk(*operand, [&](const Expr& node) {
          if (node.kind == ExprKind::Field) {
            std::string name = field(node.name) + "=*";
            if (std::find(exists.begin(), exists.end(), name) == exists.end())
              exists.push_back(name);
          }
        });
        std::string out;
        for (const std::string& e : exists) out += e + " ";
        return {out + "NOT " + wrap(inner, 2), exists.empty() ? 2 : 1};
      }
    }
    return inner;
  }

  std::optional<Text> compare(const Expr& e) {
    const Expr* left = e.args[0].get();
    const Expr* right = e.args[1].get();
    eql::CompareOp op = e.compare;
    if (left->kind != ExprKind::Field && right->kind == ExprKind::Field) {
      std::swap(left, right);
      op = op == eql::CompareOp::Less           ? eql::CompareOp::Greater
           : op == eql::CompareOp::LessEqual    ? eql::CompareOp::GreaterEqual
           : op == eql::CompareOp::Greater      ? eql::CompareOp::Less
           : op == eql::CompareOp::GreaterEqual ? eql::CompareOp::LessEqual
                                                : op;
    }
    if (left->kind != ExprKind::Field) return fail(e, "only fields are compared");
    if (right->kind == ExprKind::Field) {
      if (target_ == Target::Spl) return fail(e, "search terms cannot compare two fields");
      const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
      return Text{fmt::format("{} {} {}", field(left->name), ops[static_cast<int>(op)],
                              field(right->name))};
    }
    if (right->kind != ExprKind::Literal) return fail(e, "only fields and values are compared");
    return compare_literal(left->name, op, right->literal, e);
  }

  std::optional<Text> compare_literal(const std::string& ecs, eql::CompareOp op,
                                      const eql::Value& value, const Expr& at) {
    const std::string f = field(ecs);
    const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
    const char* spl_ops[] = {"=", "!=", "<", "<=", ">", ">="};
    const int index = static_cast<int>(op);
    if (value.type == eql::Value::Type::Null) {
      if (op != eql::CompareOp::Equal && op != eql::CompareOp::NotEqual)
        return fail(at, "null is only compared with == and !=");
      const bool is_null = op == eql::CompareOp::Equal;
      switch (target_) {
        case Target::Esql: return Text{f + (is_null ? " IS NULL" : " IS NOT NULL")};
        case Target::Spl: return Text{is_null ? "NOT " + f + "=*" : f + "=*", is_null ? 2 : 3};
        case Target::Kql: return Text{(is_null ? "isempty(" : "isnotempty(") + f + ")"};
      }
    }
    std::string literal;
    if (value.type == eql::Value::Type::Bool)
      literal = value.boolean ? "true" : "false";
    else if (value.type == eql::Value::Type::String)
      literal = quote(value.string);
    else
      literal = eql::print_literal(value);
    if (target_ != Target::Spl) return Text{fmt::format("{} {} {}", f, ops[index], literal)};
    // SPL: values compare case-insensitively unless CASE() says otherwise.
    if (value.type == eql::Value::Type::String) {
      if (has_wildcard(value.string)) return fail(at, "a literal * or ? cannot be searched for");
      literal = "CASE(" + literal + ")";
    } else if (value.type == eql::Value::Type::Bool) {
      literal = quote(literal);
    }
    if (op == eql::CompareOp::NotEqual) return Text{f + "=* NOT " + f + "=" + literal, 1};
    return Text{f + spl_ops[index] + literal};
  }

  std::optional<Text> in(const Expr& e) {
    if (e.args[0]->kind != ExprKind::Field) return fail(e, "only fields are tested with in");
    const std::string f = field(e.args[0]->name);
    std::vector<std::string> values;
    bool strings = false;
    for (size_t i = 1; i < e.args.size(); ++i) {
      const Expr& arg = *e.args[i];
      if (arg.kind != ExprKind::Literal || arg.literal.type == eql::Value::Type::Null)
        return fail(arg, "in lists hold values");
      if (arg.literal.type == eql::Value::Type::String) {
        strings = true;
        if (target_ == Target::Spl && has_wildcard(arg.literal.string))
          return fail(arg, "a literal * or ? cannot be searched for");
        values.push_back(quote(e.insensitive && target_ == Target::Esql
                                   ? to_lower(arg.literal.string)
                                   : arg.literal.string));
      } else {
        values.push_back(arg.literal.type == eql::Value::Type::Bool
                             ? (arg.literal.boolean ? "true" : "false")
                             : eql::print_literal(arg.literal));
      }
    }
    std::string list;
    for (size_t i = 0; i < values.size(); ++i) list += (i ? ", " : "") + values[i];
    Text out;
    switch (target_) {
      case Target::Esql:
        out = {
            fmt::format("{} IN ({})", e.insensitive && strings ? "TO_LOWER(" + f + ")" : f, list)};
        break;
      case Target::Kql:
        out = {fmt::format("{} {} ({})", f, e.insensitive && strings ? "in~" : "in", list)};
        break;
      case Target::Spl:
        if (e.insensitive || !strings) {
          out = {fmt::format("{} IN ({})", f, list)};
        } else {
          std::string any;
          for (size_t i = 0; i < values.size(); ++i)
            any += (i ? " OR " : "") + f + "=CASE(" + values[i] + ")";
          out = {any, values.size() > 1 ? 0 : 3};
        }
        break;
    }
    if (!e.negated) return out;
    return negate(out, &e);
  }

  // A wildcard pattern as a KQL test: contains, startswith, endswith, equality,
  // or a regexp when the wildcards sit elsewhere.
  std::string kql_pattern(const std::string& f, const std::string& pattern, bool insensitive) {
    const std::string cs = insensitive ? "" : "_cs";
    const size_t stars = std::count(pattern.begin(), pattern.end(), '*');
    const bool question = pattern.find('?') != std::string::npos;
    const std::string inner = pattern.size() >= 2 ? pattern.substr(1, pattern.size() - 2) : "";
    if (!question) {
      if (stars == 0) return fmt::format("{} {} {}", f, insensitive ? "=~" : "==", quote(pattern));
      if (stars == 2 && pattern.size() >= 2 && pattern.front() == '*' && pattern.back() == '*')
        return fmt::format("{} contains{} {}", f, cs, quote(inner));
      if (stars == 1 && pattern.back() == '*')
        return fmt::format("{} startswith{} {}", f, cs,
                           quote(pattern.substr(0, pattern.size() - 1)));
      if (stars == 1 && pattern.front() == '*')
        return fmt::format("{} endswith{} {}", f, cs, quote(pattern.substr(1)));
    }
    std::string regex = insensitive ? "(?i)^" : "^";
    for (char c : pattern) {
      if (c == '*')
        regex += ".*";
      else if (c == '?')
        regex += '.';
      else if (std::string_view("\\.+()[]{}|^$").find(c) != std::string_view::npos)
        regex += std::string("\\") + c;
      else
        regex += c;
    }
    return fmt::format("{} matches regex {}", f, quote(regex + "$"));
  }

  std::optional<Text> match(const Expr& e) {
    if (e.args[0]->kind != ExprKind::Field) return fail(e, "only fields are matched");
    std::vector<std::string> patterns;
    for (size_t i = 1; i < e.args.size(); ++i) {
      const Expr& arg = *e.args[i];
      if (arg.kind != ExprKind::Literal || !arg.literal.is_string())
        return fail(arg, "patterns are strings");
      patterns.push_back(arg.literal.string);
    }
    return match(e.args[0]->name, patterns, e.match, e.insensitive, e);
  }

  // `:`, like, regex (and their `~` forms) of a field against patterns.
  std::optional<Text> match(const std::string& ecs, const std::vector<std::string>& patterns,
                            eql::MatchOp op, bool tilde, const Expr& e) {
    const std::string f = field(ecs);
    const bool insensitive = op == eql::MatchOp::Colon || tilde;
    // `:` with CIDRs on an address field tests membership.
    if (op == eql::MatchOp::Colon && FieldTypes::ecs().find(ecs) == FieldType::Ip &&
        std::all_of(patterns.begin(), patterns.end(),
                    [](const std::string& p) { return parse_cidr(p).has_value(); }))
      return cidr(f, patterns);
    std::vector<std::string> tests;
    for (const std::string& pattern : patterns) {
      if (op == eql::MatchOp::Regex) {
        switch (target_) {
          case Target::Esql:
            tests.push_back(fmt::format("{} RLIKE {}", insensitive ? "TO_LOWER(" + f + ")" : f,
                                        quote(insensitive ? to_lower(pattern) : pattern)));
            break;
          case Target::Kql:
            tests.push_back(
                fmt::format("{} matches regex {}", f,
                            quote((insensitive ? "(?i)^(?:" : "^(?:") + pattern + ")$")));
            break;
          case Target::Spl: return fail(e, "regular expressions are not search terms");
        }
        continue;
      }
      switch (target_) {
        case Target::Esql: {
          const std::string subject = insensitive ? "TO_LOWER(" + f + ")" : f;
          const std::string value = insensitive ? to_lower(pattern) : pattern;
          std::string escaped;
          for (char c : value) escaped += c == '\\' ? std::string("\\\\") : std::string(1, c);
          tests.push_back(has_wildcard(pattern) ? fmt::format("{} LIKE {}", subject, quote(escaped))
                                                : fmt::format("{} == {}", subject, quote(value)));
          break;
        }
        case Target::Kql: tests.push_back(kql_pattern(f, pattern, insensitive)); break;
        case Target::Spl:
          if (pattern.find('?') != std::string::npos)
            return fail(e, "SPL search has no single-character wildcard");
          tests.push_back(insensitive ? fmt::format("{}={}", f, quote(pattern))
                                      : fmt::format("{}=CASE({})", f, quote(pattern)));
          break;
      }
    }
    if (tests.size() == 1) return Text{tests[0]};
    if (target_ == Target::Spl && insensitive) {
      std::string list;
      for (size_t i = 0; i < patterns.size(); ++i) list += (i ? ", " : "") + quote(patterns[i]);
      return Text{fmt::format("{} IN ({})", f, list)};
    }
    std::string any;
    for (size_t i = 0; i < tests.size(); ++i)
      any += (i ? (target_ == Target::Kql ? " or " : " OR ") : "") + tests[i];
    return Text{any, 0};
  }

  Text cidr(const std::string& f, const std::vector<std::string>& ranges) {
    std::string list;
    for (size_t i = 0; i < ranges.size(); ++i) list += (i ? ", " : "") + quote(ranges[i]);
    switch (target_) {
      case Target::Esql: return {fmt::format("CIDR_MATCH({}, {})", f, list)};
      case Target::Spl: {
        std::string any;
        for (size_t i = 0; i < ranges.size(); ++i)
          any += (i ? " OR " : "") + f + "=" + quote(ranges[i]);
        return {any, ranges.size() > 1 ? 0 : 3};
      }
      case Target::Kql: {
        std::string v4, v6;
        for (const std::string& range : ranges)
          (range.find(':') == std::string::npos ? v4 : v6) +=
              ((range.find(':') == std::string::npos ? v4 : v6).empty() ? "" : ", ") + quote(range);
        std::vector<std::string> parts;
        if (!v4.empty()) parts.push_back(fmt::format("ipv4_is_in_any_range({}, {})", f, v4));
        if (!v6.empty()) parts.push_back(fmt::format("ipv6_is_in_any_range({}, {})", f, v6));
        return parts.size() == 1 ? Text{parts[0]} : Text{parts[0] + " or " + parts[1], 0};
      }
    }
    return {};
  }

  std::optional<Text> call(const Expr& e) {
    const std::string function = to_lower(e.name);
    if (e.args.empty() || e.args[0]->kind != ExprKind::Field)
      return fail(e, fmt::format("{}() has no form here", e.name));
    const std::string f = field(e.args[0]->name);
    std::vector<std::string> values;
    for (size_t i = 1; i < e.args.size(); ++i) {
      if (e.args[i]->kind != ExprKind::Literal || !e.args[i]->literal.is_string())
        return fail(e, fmt::format("{}() takes values here", e.name));
      values.push_back(e.args[i]->literal.string);
    }
    if (function == "cidrmatch") return cidr(f, values);
    if (values.size() != 1 ||
        (function != "startswith" && function != "endswith" && function != "stringcontains"))
      return fail(e, fmt::format("{}() has no form here", e.name));
    const std::string& v = values[0];
    const std::string pattern = function == "startswith" ? v + "*"
                                : function == "endswith" ? "*" + v
                                                         : "*" + v + "*";
    if (has_wildcard(v)) return fail(e, "a literal * or ? cannot be matched");
    return match(e.args[0]->name, {pattern}, eql::MatchOp::Like, e.insensitive, e);
  }

  Target target_;
  const Table& table_;
  Diagnostics& diagnostics_;
  bool ok_ = true;
};

bool uses(const Expr* condition, std::string_view prefix) {
  bool found = false;
  if (condition)
    eql::walk(*condition, [&](const Expr& node) {
      found = found || (node.kind == ExprKind::Field && node.name.starts_with(prefix));
    });
  return found;
}

// Where a KQL query reads from, and with which field names.
std::pair<std::string, const Table*> kql_table(const eql::EventFilter& filter) {
  const std::string category = filter.any ? "" : filter.category;
  const Expr* condition = filter.condition.get();
  if (category == "process") return {"DeviceProcessEvents", &kKqlProcess};
  if (uses(condition, "dns.")) return {"_Im_Dns", &kKqlDns};
  if (category == "network") return {"DeviceNetworkEvents", &kKqlNetwork};
  if (category == "file") return {"DeviceFileEvents", &kKqlFile};
  if (uses(condition, "event.provider") || uses(condition, "aws."))
    return {"AWSCloudTrail", &kKqlCloudTrail};
  static const Table none;
  return {"union *", &none};
}

std::string duration_text(int64_t nanos, Target target) {
  int64_t seconds = std::max<int64_t>(1, nanos / 1'000'000'000);
  switch (target) {
    case Target::Esql:
      if (seconds % 3600 == 0) return fmt::format("{} hours", seconds / 3600);
      if (seconds % 60 == 0) return fmt::format("{} minutes", seconds / 60);
      return fmt::format("{} seconds", seconds);
    default:
      if (seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
      if (seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
      return fmt::format("{}s", seconds);
  }
}

// One event filter as a whole query in the target language.
std::optional<std::string> filter_query(const Rule& rule, const eql::EventFilter& filter,
                                        Target target, Diagnostics& diagnostics,
                                        const Table** table_out = nullptr) {
  std::string source;
  const Table* table = &kSplunk;
  static const Table ecs;
  switch (target) {
    case Target::Esql: {
      table = &ecs;
      std::string indices;
      for (const std::string& index : rule.index) indices += (indices.empty() ? "" : ", ") + index;
      source = "FROM " + (indices.empty() ? std::string("logs-*") : indices);
      break;
    }
    case Target::Spl:
      if (uses(filter.condition.get(), "event.provider") || uses(filter.condition.get(), "aws.")) {
        source = "search sourcetype=aws:cloudtrail";
        table = &kSplunkCloudTrail;
      } else {
        source = "search index=*";
      }
      break;
    case Target::Kql: {
      auto [name, fields] = kql_table(filter);
      source = name;
      table = fields;
      break;
    }
  }
  if (table_out) *table_out = table;
  Writer writer(target, *table, diagnostics);
  std::vector<std::string> parts;
  const bool literal_true = filter.condition && filter.condition->kind == ExprKind::Literal &&
                            filter.condition->literal.type == eql::Value::Type::Bool &&
                            filter.condition->literal.boolean;
  if (!filter.any && !filter.category.empty()) {
    if (target == Target::Esql)
      parts.push_back(fmt::format("event.category == {}", quote(filter.category)));
    if (target == Target::Spl) parts.push_back(fmt::format("tag={}", filter.category));
    // KQL: the table is the category.
  }
  // The table (KQL) or tag (SPL) already selects process starts, connections
  // and file creations: tests of event.type and event.category that say the
  // same are left out.
  std::vector<const Expr*> terms;
  if (filter.condition && !literal_true) {
    if (filter.condition->kind == ExprKind::And)
      for (const auto& arg : filter.condition->args) terms.push_back(arg.get());
    else
      terms.push_back(filter.condition.get());
  }
  const std::string category = filter.any ? "" : filter.category;
  auto implied = [&](const Expr& term) {
    if (target == Target::Esql || term.args.empty() || term.args[0]->kind != ExprKind::Field)
      return false;
    const std::string& name = term.args[0]->name;
    if (name != "event.type" && name != "event.category") return false;
    if (term.kind == ExprKind::In && term.negated) return false;
    if (term.kind == ExprKind::Compare && term.compare != eql::CompareOp::Equal) return false;
    if (term.kind != ExprKind::Compare && term.kind != ExprKind::In) return false;
    static const std::map<std::string, std::vector<std::string>> types = {
        {"process", {"start"}},
        {"network", {"start", "connection"}},
        {"file", {"creation", "change"}}};
    auto allowed = types.find(category);
    for (size_t i = 1; i < term.args.size(); ++i) {
      const Expr& arg = *term.args[i];
      if (arg.kind != ExprKind::Literal || !arg.literal.is_string()) return false;
      if (name == "event.category"
              ? arg.literal.string != category
              : allowed == types.end() || std::find(allowed->second.begin(), allowed->second.end(),
                                                    arg.literal.string) == allowed->second.end())
        return false;
    }
    return true;
  };
  std::vector<std::string> kept;
  for (const Expr* term : terms) {
    if (implied(*term)) continue;
    auto text = writer.expr(*term);
    if (!text) return std::nullopt;
    kept.push_back(text->level < 1 ? "(" + text->text + ")" : text->text);
  }
  parts.insert(parts.end(), kept.begin(), kept.end());
  std::string where;
  for (size_t i = 0; i < parts.size(); ++i)
    where += (i ? (target == Target::Kql ? " and " : " AND ") : "") + parts[i];
  switch (target) {
    case Target::Esql: return where.empty() ? source : source + "\n| WHERE " + where;
    case Target::Spl: return where.empty() ? source : source + " " + where;
    case Target::Kql: return where.empty() ? source : source + "\n| where " + where;
  }
  return std::nullopt;
}

std::string correlation_query(const Rule& rule, const std::vector<Rule>& rules, Target target,
                              Diagnostics& diagnostics) {
  const RuleCorrelation& spec = *rule.correlation;
  static const char* names[] = {"ES|QL", "SPL", "KQL"};
  const char* name = names[static_cast<int>(target)];
  if (spec.type != RuleCorrelation::Type::EventCount &&
      spec.type != RuleCorrelation::Type::ValueCount) {
    diagnostics.error("export", {0, 0},
                      fmt::format("{}: a {} correlation has no {} form: it orders or joins "
                                  "events, which {} does not",
                                  name, spec.type_name, name, name));
    return {};
  }
  if (spec.inputs.size() != 1) {
    diagnostics.error("export", {0, 0},
                      fmt::format("{}: only a count over one rule is written", name));
    return {};
  }
  const Rule* base = nullptr;
  for (const Rule& candidate : rules)
    if (candidate.rule_id == spec.inputs[0].rule_id) base = &candidate;
  if (!base || base->query.alternatives.size() != 1 ||
      base->query.alternatives[0].kind != eql::QueryKind::Event) {
    diagnostics.error("export", {0, 0},
                      fmt::format("{}: the counted rule must be one event query", name));
    return {};
  }
  const Table* table = nullptr;
  auto query = filter_query(*base, base->query.alternatives[0].event, target, diagnostics, &table);
  if (!query) return {};
  Writer names_of(target, *table, diagnostics);
  std::string by;
  for (const std::string& group : spec.inputs[0].group_fields)
    by += (by.empty() ? "" : ", ") + names_of.field(group);
  const std::string value = spec.inputs[0].value_field.empty()
                                ? std::string()
                                : names_of.field(spec.inputs[0].value_field);
  std::string condition;
  for (const auto& [op, bound] : spec.condition) {
    const char* symbol = op == "gt"    ? ">"
                         : op == "gte" ? ">="
                         : op == "lt"  ? "<"
                         : op == "lte" ? "<="
                         : op == "eq"  ? "=="
                                       : "!=";
    condition += fmt::format("{}{} {} {}",
                             condition.empty() ? "" : (target == Target::Kql ? " and " : " AND "),
                             target == Target::Kql ? "count_" : "count", symbol, bound);
  }
  const std::string span = duration_text(spec.timespan, target);
  switch (target) {
    case Target::Esql:
      return fmt::format("{}\n| STATS count = {} BY window = BUCKET(@timestamp, {}){}\n| WHERE {}",
                         *query, value.empty() ? "COUNT(*)" : "COUNT_DISTINCT(" + value + ")", span,
                         by.empty() ? "" : ", " + by, condition);
    case Target::Spl:
      return fmt::format("{}\n| bin _time span={}\n| stats {} as count by _time{}\n| where {}",
                         *query, span, value.empty() ? "count" : "dc(" + value + ")",
                         by.empty() ? "" : ", " + by, condition);
    case Target::Kql:
      return fmt::format("{}\n| summarize count_ = {} by bin(TimeGenerated, {}){}\n| where {}",
                         *query, value.empty() ? "count()" : "dcount(" + value + ")", span,
                         by.empty() ? "" : ", " + by, condition);
  }
  return {};
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& field_table(Target target) {
  static const Table ecs;
  return target == Target::Spl ? kSplunk : target == Target::Kql ? kKqlProcess : ecs;
}

std::string render(const Rule& rule, const std::vector<Rule>& rules, Target target,
                   Diagnostics& diagnostics) {
  static const char* names[] = {"ES|QL", "SPL", "KQL"};
  const char* name = names[static_cast<int>(target)];
  if (rule.correlation) return correlation_query(rule, rules, target, diagnostics);
  std::string out;
  for (size_t a = 0; a < rule.query.alternatives.size(); ++a) {
    const eql::Query& query = rule.query.alternatives[a];
    if (query.kind == eql::QueryKind::Sequence && !query.is_single_step_sequence()) {
      diagnostics.error("export", query.keyword_span,
                        fmt::format("{}: a sequence has no {} form: it joins events in order, "
                                    "which {} does not",
                                    name, name, name),
                        "pickaxe runs it natively; Sigma says it as a temporal_ordered "
                        "correlation (convert --to sigma)");
      return {};
    }
    if (query.kind == eql::QueryKind::Sample) {
      diagnostics.error("export", query.keyword_span,
                        fmt::format("{}: a sample has no {} form", name, name));
      return {};
    }
    const eql::EventFilter& filter =
        query.kind == eql::QueryKind::Event ? query.event : query.steps[0].filter;
    auto text = filter_query(rule, filter, target, diagnostics);
    if (!text) return {};
    for (const eql::Pipe& pipe : query.pipes) {
      const bool head = pipe.kind == eql::PipeKind::Head;
      switch (target) {
        case Target::Esql:
          *text += head ? fmt::format("\n| SORT @timestamp ASC\n| LIMIT {}", pipe.count)
                        : fmt::format("\n| SORT @timestamp DESC\n| LIMIT {}", pipe.count);
          break;
        case Target::Spl:
          *text += fmt::format("\n| {} {}", head ? "tail" : "head", pipe.count);
          break;
        case Target::Kql:
          *text += fmt::format("\n| top {} by TimeGenerated {}", pipe.count, head ? "asc" : "desc");
          break;
      }
    }
    if (!out.empty()) out += "\n\n";
    if (rule.query.alternatives.size() > 1) {
      const std::string what = fmt::format("query {} of {}", a + 1, rule.query.alternatives.size());
      out += target == Target::Spl ? "``` " + what + " ```\n" : "// " + what + "\n";
    }
    out += *text;
  }
  return out + "\n";
}

}  // namespace pickaxe::exporter
