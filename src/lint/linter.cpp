#include "lint/linter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "eql/printer.h"
#include "event/patterns.h"
#include "util/strings.h"

namespace pickaxe {

using eql::CompareOp;
using eql::EventFilter;
using eql::Expr;
using eql::ExprKind;
using eql::MatchOp;
using eql::Value;

namespace {

bool is_field(const Expr& expr) {
  return expr.kind == ExprKind::Field;
}

bool is_string_literal(const Expr& expr) {
  return expr.kind == ExprKind::Literal && expr.literal.is_string();
}

// The string values an expression is compared with: Match patterns, In items,
// or the other side of ==.
std::vector<const Expr*> compared_strings(const Expr& expr) {
  std::vector<const Expr*> out;
  if (expr.kind == ExprKind::Match || expr.kind == ExprKind::In) {
    for (size_t i = 1; i < expr.args.size(); ++i) {
      if (is_string_literal(*expr.args[i])) out.push_back(expr.args[i].get());
    }
  } else if (expr.kind == ExprKind::Compare && expr.args.size() == 2 &&
             is_string_literal(*expr.args[1])) {
    out.push_back(expr.args[1].get());
  }
  return out;
}

const Expr* subject_field(const Expr& expr) {
  if ((expr.kind == ExprKind::Match || expr.kind == ExprKind::In ||
       expr.kind == ExprKind::Compare) &&
      !expr.args.empty() && is_field(*expr.args[0]))
    return expr.args[0].get();
  return nullptr;
}

bool positive_equality(const Expr& expr) {
  if (expr.kind == ExprKind::Compare) return expr.compare == CompareOp::Equal;
  if (expr.kind == ExprKind::In) return !expr.negated;
  return expr.kind == ExprKind::Match;
}

std::string quoted_list(const std::vector<std::string>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += eql::quote_string(values[i]);
  }
  return out + ")";
}

struct Cidr {
  bool v6 = false;
  unsigned char address[16] = {};
  int prefix = 0;
};

std::optional<Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  Cidr cidr;
  cidr.v6 = address.find(':') != std::string::npos;
  if (inet_pton(cidr.v6 ? AF_INET6 : AF_INET, address.c_str(), cidr.address) != 1)
    return std::nullopt;
  cidr.prefix = cidr.v6 ? 128 : 32;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    int prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > cidr.prefix) return std::nullopt;
    cidr.prefix = prefix;
  }
  return cidr;
}

bool looks_like_domain(std::string_view value) {
  if (value.find('.') == std::string_view::npos ||
      value.find_first_of("*? /\\:") != std::string_view::npos)
    return false;
  return !parse_cidr(value).has_value();
}

struct Range {
  std::string_view label;
  std::string_view v4;
  std::string_view v6;
};

// IPv4 special ranges and the IPv6 range that plays the same part.
constexpr Range kPrivateRanges[] = {
    {"loopback", "127.0.0.0/8", "::1/128"},        {"private", "10.0.0.0/8", "fc00::/7"},
    {"private", "172.16.0.0/12", "fc00::/7"},      {"private", "192.168.0.0/16", "fc00::/7"},
    {"link-local", "169.254.0.0/16", "fe80::/10"},
};

class Linter {
 public:
  Linter(const FieldTypes& types, Diagnostics& diagnostics)
      : types_(types), diagnostics_(diagnostics) {}

  void filter(const EventFilter& filter) {
    if (!filter.condition) return;
    event_type_checks(filter);
    visit(*filter.condition, false, filter);
  }

 private:
  std::optional<FieldType> type_of(const Expr& field) const { return types_.find(field.name); }

  void visit(const Expr& expr, bool negated, const EventFilter& filter) {
    if (expr.kind == ExprKind::Not) {
      visit(*expr.args[0], !negated, filter);
      return;
    }
    args_whitespace(expr);
    ip_wildcard_cidr(expr, negated);
    exact_domain_list(expr, negated);
    ipv6_gap(expr, negated);
    wildcard_equality(expr);
    windows_only_exclusion(expr, negated, filter);
    type_mismatch(expr);
    regex_cost(expr);
    for (const auto& arg : expr.args) visit(*arg, negated, filter);
  }

  // A regexp whose compiled program is large costs that many steps a byte.
  void regex_cost(const Expr& expr) {
    if (expr.kind != ExprKind::Match || expr.match != eql::MatchOp::Regex) return;
    for (size_t i = 1; i < expr.args.size(); ++i) {
      const Expr& pattern = *expr.args[i];
      if (pattern.kind != ExprKind::Literal || pattern.literal.type != eql::Value::Type::String)
        continue;
      int size = regex_program_size(pattern.literal.string);
      if (size > kMaxRegexProgram) {
        diagnostics_.error(
            "regex-too-complex", pattern.span,
            fmt::format("this regular expression compiles to {} instructions, past the {} pickaxe "
                        "runs (Elasticsearch refuses one whose automaton passes 10000 states)",
                        size, kMaxRegexProgram),
            "bound the repetitions");
      } else if (size > kCostlyRegexProgram) {
        diagnostics_.warning(
            "regex-cost", pattern.span,
            fmt::format("this regular expression compiles to {} instructions: matching it costs "
                        "about that many steps per byte of every value it is tried on",
                        size),
            "bound the repetitions, or match a literal part with `:` or `like` first");
      }
    }
  }

  // process.args holds one argv element per value; a pattern with a space never matches one.
  void args_whitespace(const Expr& expr) {
    const Expr* field = subject_field(expr);
    if (!field || !(field->name == "process.args" || field->name.ends_with(".args"))) return;
    for (const Expr* literal : compared_strings(expr)) {
      const std::string& pattern = literal->literal.string;
      // Only an option followed by its value ("-o pool.*") is a likely mistake: a
      // quoted argument ("BEGIN {system(*)}", "--config=C:\Program Files\...") may
      // well contain spaces.
      size_t space = pattern.find_first_of(" \t");
      size_t start = pattern.find_first_not_of('*');
      if (space == std::string::npos || start == std::string::npos || pattern[start] != '-' ||
          pattern.substr(0, space).find('=') != std::string::npos ||
          pattern.find_first_not_of(" \t*", space) == std::string::npos)
        continue;
      std::string before(pattern.substr(0, space));
      size_t rest = pattern.find_first_not_of(" \t", space);
      std::string after = rest == std::string::npos ? std::string() : pattern.substr(rest);
      std::string command_line = field->name.substr(0, field->name.size() - 4) + "command_line";
      std::string wildcard = pattern;
      if (!wildcard.starts_with("*")) wildcard = "*" + wildcard;
      if (!wildcard.ends_with("*")) wildcard += "*";
      auto& d = diagnostics_.warning(
          "args-whitespace", literal->span,
          fmt::format("{} holds one argv element per value; the option and value in {} are two "
                      "elements as typed, so this matches only if they were quoted together",
                      field->name, eql::quote_string(pattern)),
          fmt::format("match the whole command line (the fix below), or test each argument on its "
                      "own, which does not check that they are adjacent: ({} : {} and {} : {})",
                      field->name, eql::quote_string(before), field->name,
                      eql::quote_string(after)));
      d.fix = fmt::format("{} : {}", command_line, eql::quote_string(wildcard));
    }
  }

  // `:` is wildcard string matching; on an ip field a CIDR literal means cidrMatch.
  void ip_wildcard_cidr(const Expr& expr, bool negated) {
    const Expr* field = subject_field(expr);
    if (!field || expr.kind != ExprKind::Match || type_of(*field) != FieldType::Ip) return;
    std::vector<std::string> cidrs;
    for (const Expr* literal : compared_strings(expr)) {
      const std::string& value = literal->literal.string;
      if (value.find('/') != std::string::npos && parse_cidr(value)) cidrs.push_back(value);
    }
    if (cidrs.empty()) return;
    std::string call = fmt::format("cidrMatch({}", eql::print(*field));
    for (const std::string& cidr : cidrs) call += ", " + eql::quote_string(cidr);
    call += ")";
    auto& d = diagnostics_.warning(
        "ip-wildcard-cidr", expr.span,
        fmt::format("`{}` on the ip field {} is wildcard string matching, not CIDR membership; "
                    "pickaxe reads it as cidrMatch (seed dialect), Elasticsearch does not",
                    expr.match == MatchOp::Colon ? ":" : "like", field->name),
        "write CIDR membership with cidrMatch()");
    d.fix = call;
  }

  // Exact matching of domain names misses every subdomain.
  void exact_domain_list(const Expr& expr, bool negated) {
    const Expr* field = subject_field(expr);
    if (!field || negated || !positive_equality(expr) || expr.kind == ExprKind::Match) return;
    static const std::set<std::string, std::less<>> kDomainFields = {
        "dns.question.name", "destination.domain", "url.domain", "server.domain",
        "tls.client.server_name"};
    if (!kDomainFields.contains(field->name)) return;
    std::vector<std::string> domains;
    for (const Expr* literal : compared_strings(expr)) {
      if (looks_like_domain(literal->literal.string)) domains.push_back(literal->literal.string);
    }
    if (domains.empty()) return;
    std::vector<std::string> patterns;
    for (const std::string& domain : domains) {
      patterns.push_back(domain);
      patterns.push_back("*." + domain);
    }
    auto& d = diagnostics_.warning(
        "exact-domain-match", expr.span,
        fmt::format("exact match on {} misses subdomains: \"sub.{}\" does not equal \"{}\"",
                    field->name, domains.front(), domains.front()),
        "match each domain and its subdomains with `:` (case-insensitive, as DNS names are)");
    d.fix = fmt::format("{} : {}", field->name, quoted_list(patterns));
  }

  // IPv4 private/loopback ranges listed without their IPv6 equivalents.
  void ipv6_gap(const Expr& expr, bool negated) {
    std::vector<std::string> values;
    const Expr* field = nullptr;
    if (expr.kind == ExprKind::Call && to_lower(expr.name) == "cidrmatch" && !expr.args.empty()) {
      field = is_field(*expr.args[0]) ? expr.args[0].get() : nullptr;
      for (size_t i = 1; i < expr.args.size(); ++i) {
        if (is_string_literal(*expr.args[i])) values.push_back(expr.args[i]->literal.string);
      }
    } else if ((field = subject_field(expr)) && expr.kind == ExprKind::Match &&
               type_of(*field) == FieldType::Ip) {
      for (const Expr* literal : compared_strings(expr)) values.push_back(literal->literal.string);
    } else {
      return;
    }
    bool has_v6 = false;
    std::vector<const Range*> v4_ranges;
    for (const std::string& value : values) {
      auto cidr = parse_cidr(value);
      if (!cidr) continue;
      has_v6 = has_v6 || cidr->v6;
      for (const Range& range : kPrivateRanges) {
        if (value == range.v4) v4_ranges.push_back(&range);
      }
    }
    if (has_v6 || v4_ranges.empty()) return;
    std::vector<std::string> missing;
    std::vector<std::string> labels;
    for (const Range* range : v4_ranges) {
      if (std::find(missing.begin(), missing.end(), range->v6) == missing.end())
        missing.emplace_back(range->v6);
      if (std::find(labels.begin(), labels.end(), range->label) == labels.end())
        labels.emplace_back(range->label);
    }
    std::string label_text;
    for (size_t i = 0; i < labels.size(); ++i) label_text += (i ? "/" : "") + labels[i];
    std::vector<std::string> all = values;
    all.insert(all.end(), missing.begin(), missing.end());
    std::string subject = field ? eql::print(*field) : "<field>";
    std::string call = fmt::format("cidrMatch({}", subject);
    for (const std::string& value : all) call += ", " + eql::quote_string(value);
    call += ")";
    auto& d =
        diagnostics_.warning("ipv6-gap", expr.span,
                             fmt::format("IPv4 {} ranges are {} but their IPv6 equivalents are not",
                                         label_text, negated ? "excluded" : "listed"),
                             fmt::format("add {}", quoted_list(missing)));
    d.fix = call;
  }

  // == and in never expand wildcards.
  void wildcard_equality(const Expr& expr) {
    if (expr.kind != ExprKind::Compare && expr.kind != ExprKind::In) return;
    if (expr.kind == ExprKind::Compare && expr.compare != CompareOp::Equal &&
        expr.compare != CompareOp::NotEqual)
      return;
    const Expr* field = subject_field(expr);
    if (!field) return;
    std::vector<const Expr*> values = compared_strings(expr);
    auto wildcard = std::find_if(values.begin(), values.end(), [](const Expr* literal) {
      return literal->literal.string.find('*') != std::string::npos;
    });
    if (wildcard == values.end()) return;
    bool negative = expr.kind == ExprKind::In ? expr.negated : expr.compare == CompareOp::NotEqual;
    std::vector<std::string> patterns;
    for (const Expr* literal : values) patterns.push_back(literal->literal.string);
    auto& d = diagnostics_.warning(
        "wildcard-in-equality", expr.span,
        fmt::format("`{}` compares exactly; the `*` in {} is a literal character here",
                    expr.kind == ExprKind::In             ? "in"
                    : expr.compare == CompareOp::NotEqual ? "!="
                                                          : "==",
                    eql::quote_string((*wildcard)->literal.string)),
        "`like` matches wildcards with the same case sensitivity; `:` ignores case");
    d.fix = fmt::format("{}{} like {}", negative ? "not " : "", eql::print(*field),
                        patterns.size() == 1 && expr.kind == ExprKind::Compare
                            ? eql::quote_string(patterns[0])
                            : quoted_list(patterns));
  }

  // An exclusion list of Windows executables only, on a query not limited to Windows.
  void windows_only_exclusion(const Expr& expr, bool negated, const EventFilter& filter) {
    const Expr* field = subject_field(expr);
    bool excluding = negated != (expr.kind == ExprKind::In && expr.negated);
    if (!field || !excluding || !field->name.ends_with("process.name")) return;
    std::vector<const Expr*> values = compared_strings(expr);
    if (values.size() < 2) return;
    for (const Expr* literal : values) {
      if (!to_lower(literal->literal.string).ends_with(".exe")) return;
    }
    if (mentions_windows(*filter.condition)) return;
    std::vector<std::string> all;
    for (const Expr* literal : values) all.push_back(literal->literal.string);
    for (const Expr* literal : values) {
      const std::string& name = literal->literal.string;
      all.push_back(name.substr(0, name.size() - 4));
    }
    auto& d = diagnostics_.warning(
        "windows-only-exclusion", expr.span,
        fmt::format(
            "this exclusion names only Windows executables, but the query is not limited to "
            "Windows; on Linux and macOS {} is not excluded",
            eql::quote_string(all[values.size()])),
        "add the Linux and macOS process names, or limit the query with host.os.type");
    std::string_view op = expr.kind == ExprKind::Match ? ":" : expr.negated ? "not in" : "in";
    d.fix = fmt::format("{} {} {}", eql::print(*field), op, quoted_list(all));
  }

  // True when the condition shows it is about Windows: host.os.* says so, it reads
  // Windows-only fields, or it matches Windows paths.
  static bool mentions_windows(const Expr& condition) {
    bool found = false;
    eql::walk(condition, [&](const Expr& node) {
      if (node.kind == ExprKind::Field &&
          (node.name.starts_with("winlog.") || node.name.starts_with("registry.") ||
           node.name.starts_with("process.pe.") || node.name.starts_with("file.pe.")))
        found = true;
      if (is_string_literal(node)) {
        const std::string& text = node.literal.string;
        bool drive_path = text.size() >= 3 && std::isalpha(static_cast<unsigned char>(text[0])) &&
                          text[1] == ':' && text[2] == '\\';
        if (drive_path || text.find(":\\") != std::string::npos || text.starts_with("\\\\"))
          found = true;
      }
      const Expr* field = subject_field(node);
      if (!field || !field->name.starts_with("host.os")) return;
      for (const Expr* literal : compared_strings(node)) {
        if (to_lower(literal->literal.string).find("windows") != std::string::npos) found = true;
      }
    });
    return found;
  }

  // A string compared with a numeric field, or a pattern on a non-string field.
  void type_mismatch(const Expr& expr) {
    const Expr* field = subject_field(expr);
    if (!field) return;
    auto type = type_of(*field);
    if (!type) return;
    if (is_numeric(*type) && (expr.kind == ExprKind::Compare || expr.kind == ExprKind::In)) {
      for (const Expr* literal : compared_strings(expr)) {
        auto& d = diagnostics_.warning(
            "type-mismatch", literal->span,
            fmt::format("{} is a number field ({}), compared here with the string {}", field->name,
                        field_type_name(*type), eql::quote_string(literal->literal.string)),
            "write numbers without quotes");
        d.fix = literal->literal.string;
        return;
      }
    }
    if ((is_numeric(*type) || *type == FieldType::Boolean || *type == FieldType::Date) &&
        expr.kind == ExprKind::Match) {
      diagnostics_.warning(
          "type-mismatch", expr.span,
          fmt::format("{} is a {} field; wildcard and regex matching work on strings only",
                      field->name, field_type_name(*type)),
          "compare with ==, in, or the range operators");
    }
  }

  // event.type gates that Elastic Defend data never satisfies.
  void event_type_checks(const EventFilter& filter) {
    bool reads_dns = false;
    bool reads_connection_fields = false;
    eql::walk(*filter.condition, [&](const Expr& node) {
      if (node.kind != ExprKind::Field) return;
      if (node.name.starts_with("dns.")) reads_dns = true;
      if (node.name.starts_with("destination.") || node.name.starts_with("source."))
        reads_connection_fields = true;
    });
    const Expr* gate = find_event_type_connection(*filter.condition, false);
    if (!gate || names_another_source(*filter.condition)) return;
    if (reads_dns) {
      auto& d = diagnostics_.warning(
          "dns-event-type", gate->span,
          "DNS events do not carry event.type \"connection\": Elastic Defend's are "
          "[\"protocol\", \"info\"], so this query may never match Endpoint DNS data",
          "gate DNS on network.protocol (or event.action == \"lookup_requested\"), as Elastic's "
          "own "
          "DNS rules do");
      d.fix = "network.protocol == \"dns\"";
    } else if (reads_connection_fields) {
      auto& d = diagnostics_.warning(
          "network-event-type", gate->span,
          "Elastic Defend network events carry event.type \"start\" "
          "(connection_attempted, connection_accepted), not \"connection\"; only auditd, Sysmon "
          "and "
          "packetbeat data say \"connection\", so Endpoint connections are missed",
          "accept both forms of a new connection");
      d.fix = "event.type in (\"start\", \"connection\")";
    }
  }

  // True when the condition reads fields of, or selects, a data source other
  // than Elastic Defend (packetbeat flows, auditd, Sysmon, Zeek...), whose
  // connection events do say "connection".
  static bool names_another_source(const Expr& condition) {
    static constexpr std::string_view kPrefixes[] = {"flow.",     "network_traffic.", "auditd.",
                                                     "sysmon.",   "winlog.",          "zeek.",
                                                     "suricata.", "packetbeat."};
    bool found = false;
    eql::walk(condition, [&](const Expr& node) {
      if (node.kind != ExprKind::Field) return;
      for (std::string_view prefix : kPrefixes) found = found || node.name.starts_with(prefix);
      found = found || node.name == "event.dataset" || node.name == "data_stream.dataset" ||
              node.name == "event.module";
    });
    return found;
  }

  static const Expr* find_event_type_connection(const Expr& expr, bool negated) {
    if (expr.kind == ExprKind::Not) return find_event_type_connection(*expr.args[0], !negated);
    if (expr.kind == ExprKind::And || (expr.kind == ExprKind::Or && expr.args.size() == 1)) {
      for (const auto& arg : expr.args) {
        if (const Expr* found = find_event_type_connection(*arg, negated)) return found;
      }
      return nullptr;
    }
    const Expr* field = subject_field(expr);
    if (negated || !field || field->name != "event.type" || !positive_equality(expr))
      return nullptr;
    std::vector<const Expr*> values = compared_strings(expr);
    if (values.empty()) return nullptr;
    for (const Expr* literal : values) {
      if (to_lower(literal->literal.string) != "connection") return nullptr;
    }
    return &expr;
  }

  const FieldTypes& types_;
  Diagnostics& diagnostics_;
};

}  // namespace

void lint(const eql::QuerySet& set, const FieldTypes& types, Diagnostics& diagnostics) {
  Linter linter(types, diagnostics);
  for (const eql::Query& query : set.alternatives) {
    eql::for_each_filter(query, [&](const EventFilter& filter) { linter.filter(filter); });
  }
}

}  // namespace pickaxe
