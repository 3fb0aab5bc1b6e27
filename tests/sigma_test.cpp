// Sigma rules: reading, every modifier and the escapes (golden EQL), the
// condition grammar, running rendered rules, and SigmaHQ's own rules.
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "rules/rule_loader.h"
#include "sigma/to_eql.h"
#include "stream_util.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

using sigma::Piece;

// A logsource that maps nothing, so that goldens show the detection alone.
const sigma::Mapping& test_mapping() {
  static const sigma::Mapping mapping = [] {
    sigma::Mapping m;
    Diagnostics diagnostics;
    auto source = std::make_shared<SourceFile>("test-mapping.yml",
                                               "logsources:\n  - name: test\n    product: test\n"
                                               "    eql_category: any\n    keywords: message\n");
    EXPECT_TRUE(m.add_file(source, diagnostics));
    return m;
  }();
  return mapping;
}

struct Rendered {
  std::string eql;  // without "any where "
  Diagnostics diagnostics;
};

Rendered render(const std::string& detection) {
  auto source = std::make_shared<SourceFile>(
      "rule.yml", "title: t\nlogsource:\n  product: test\ndetection:\n" + detection);
  Rendered out{{}, Diagnostics(source)};
  auto rule = sigma::parse_rule(source, out.diagnostics);
  if (!rule) return out;
  sigma::Rendered rendered = sigma::to_eql(*rule, test_mapping(), out.diagnostics);
  if (rendered.eql.empty()) return out;
  EXPECT_TRUE(rendered.eql.starts_with("any where ")) << rendered.eql;
  out.eql = rendered.eql.substr(10);
  // What is rendered must be EQL that pickaxe compiles.
  Parsed parsed = parse(rendered.eql);
  EXPECT_TRUE(parsed.ok()) << rendered.eql << "\n" << parsed.messages();
  return out;
}

std::string golden(const std::string& selection) {
  Rendered out = render("  sel:\n    " + selection + "\n  condition: sel\n");
  std::string messages;
  for (const Diagnostic& d : out.diagnostics.items()) messages += render_text(d);
  EXPECT_FALSE(out.diagnostics.has_errors()) << selection << "\n" << messages;
  return out.eql;
}

std::string first_error(const std::string& detection) {
  Rendered out = render(detection);
  for (const Diagnostic& d : out.diagnostics.items())
    if (d.severity == Severity::Error) return render_text(d);
  return "";
}

TEST(Sigma, ValueEscapes) {
  using K = Piece::Kind;
  auto text = [](std::string t) { return Piece{K::Text, std::move(t)}; };
  const Piece star{K::Star, ""}, question{K::Question, ""};
  EXPECT_EQ(sigma::parse_value("ab*c?"),
            (std::vector<Piece>{text("ab"), star, text("c"), question}));
  EXPECT_EQ(sigma::parse_value(R"(a\*b\?)"), (std::vector<Piece>{text("a*b?")}));
  // A backslash before a wildcard escapes it; `\\*` is a backslash, then a wildcard.
  EXPECT_EQ(sigma::parse_value(R"(C:\Windows\*)"), (std::vector<Piece>{text(R"(C:\Windows*)")}));
  EXPECT_EQ(sigma::parse_value(R"(C:\Windows\\*)"),
            (std::vector<Piece>{text(R"(C:\Windows\)"), star}));
  // Three backslashes: a backslash and a plain wildcard.
  EXPECT_EQ(sigma::parse_value(R"(a\\\*)"), (std::vector<Piece>{text(R"(a\*)")}));
  // A backslash before anything else is itself; three or four make two.
  EXPECT_EQ(sigma::parse_value(R"(C:\Users\x)"), (std::vector<Piece>{text(R"(C:\Users\x)")}));
  EXPECT_EQ(sigma::parse_value(R"(a\\\\b)"), (std::vector<Piece>{text(R"(a\\b)")}));
  EXPECT_EQ(sigma::parse_value(R"(a\\\b)"), (std::vector<Piece>{text(R"(a\\b)")}));
  EXPECT_EQ(sigma::parse_value(R"(trailing\)"), (std::vector<Piece>{text(R"(trailing\)")}));
}

TEST(Sigma, StringModifiersGolden) {
  EXPECT_EQ(golden("f: abc"), R"(f : "abc")");
  EXPECT_EQ(golden("f: [a, 'b*', 'c?d']"), R"(f : ("a", "b*", "c?d"))");
  EXPECT_EQ(golden("f|contains: abc"), R"(f : "*abc*")");
  EXPECT_EQ(golden("f|contains: '*abc'"), R"(f : "*abc*")");
  EXPECT_EQ(golden("f|startswith: abc"), R"(f : "abc*")");
  EXPECT_EQ(golden("f|endswith: abc"), R"(f : "*abc")");
  EXPECT_EQ(golden("f|contains|all: [a, b]"), R"(f : "*a*" and f : "*b*")");
  EXPECT_EQ(golden("f|cased: Abc"), R"(f == "Abc")");
  EXPECT_EQ(golden("f|cased: [A, B]"), R"(f in ("A", "B"))");
  EXPECT_EQ(golden("f|cased|startswith: Abc"), R"(f like "Abc*")");
  EXPECT_EQ(golden("f|windash: '-x'"), R"(f : ("-x", "/x", "–x", "—x", "―x"))");
  EXPECT_EQ(golden("f|windash|contains: 'a -x'"),
            R"(f : ("*a -x*", "*a /x*", "*a –x*", "*a —x*", "*a ―x*"))");
}

TEST(Sigma, EscapesGolden) {
  // An escaped wildcard is a literal character, which only a regexp can say.
  EXPECT_EQ(golden(R"(f: 'a\*b')"), R"(f regex~ "a\\*b")");
  EXPECT_EQ(golden(R"(f: 'C:\Windows\*')"), R"(f regex~ "C:\\\\Windows\\*")");
  // A backslash before a wildcard, escaped: a backslash then the wildcard.
  EXPECT_EQ(golden(R"(f: 'C:\Windows\\*')"), R"(f : "C:\\Windows\\*")");
  EXPECT_EQ(golden(R"(f: 'a\\\*')"), R"(f regex~ "a\\\\\\*")");
  EXPECT_EQ(golden(R"(f|endswith: '\cmd.exe')"), R"(f : "*\\cmd.exe")");
  EXPECT_EQ(golden(R"(f: 'say "hi"')"), R"(f : "say \"hi\"")");
  EXPECT_EQ(golden(R"(f|contains: 'x\?')"), R"(f regex~ ".*x\\?.*")");
}

TEST(Sigma, EncodingModifiersGolden) {
  EXPECT_EQ(golden("f|base64: abc"), R"(f : "YWJj")");
  EXPECT_EQ(golden("f|base64offset|contains: abc"), R"(f : ("*YWJj*", "*FiY*", "*hYm*"))");
  EXPECT_EQ(golden("f|wide|base64: abc"), R"(f : "YQBiAGMA")");
  EXPECT_EQ(golden("f|utf16le|base64: abc"), R"(f : "YQBiAGMA")");
  EXPECT_EQ(golden("f|utf16be|base64: abc"), R"(f : "AGEAYgBj")");
  EXPECT_EQ(golden("f|utf16|base64: abc"), R"(f : "//5hAGIAYwA=")");
  EXPECT_NE(first_error("  sel:\n    f|wide: abc\n  condition: sel\n").find("not text"),
            std::string::npos);
  EXPECT_NE(first_error("  sel:\n    f|base64: 'a*'\n  condition: sel\n").find("wildcards"),
            std::string::npos);
}

TEST(Sigma, TypeModifiersGolden) {
  EXPECT_EQ(golden("f|re: 'a.b'"), R"(f regex ".*a[^\n]b.*")");
  EXPECT_EQ(golden("f|re|i|s: '^ab$'"), R"(f regex~ "ab")");
  EXPECT_EQ(golden(R"(f|re: '\s-[^-\s]{0,2}d')"),
            R"(f regex ".*[ \t\n\r\u{0C}\u{0B}]-[^- \t\n\r\u{0C}\u{0B}]{0,2}d.*")");
  EXPECT_EQ(golden(R"(f|re: '(?:^|\/)\.x')"), R"(f regex "(|.*\\/)\\.x.*")");
  EXPECT_EQ(golden("f|re: 'a|b$'"), R"(f regex ".*a.*|.*b")");
  // `m` changes only ^ and $, which Lucene cannot place at line ends.
  EXPECT_EQ(golden("f|re|m: 'a.b'"), R"(f regex ".*a[^\n]b.*")");
  EXPECT_NE(first_error("  sel:\n    f|re|m: '^a'\n  condition: sel\n").find("line ends"),
            std::string::npos);
  EXPECT_NE(first_error("  sel:\n    f|i: 'a'\n  condition: sel\n").find("only follows `re`"),
            std::string::npos);
  EXPECT_EQ(golden("f|cidr: [10.0.0.0/8, 'fe80::/10']"),
            R"(cidrmatch(f, "10.0.0.0/8", "fe80::/10"))");
  EXPECT_EQ(golden("f|exists: true"), "f != null");
  EXPECT_EQ(golden("f|exists: false"), "f == null");
  EXPECT_EQ(golden("f|lt: 5"), "f < 5");
  EXPECT_EQ(golden("f|lte: 5"), "f <= 5");
  EXPECT_EQ(golden("f|gt: 5"), "f > 5");
  EXPECT_EQ(golden("f|gte: 5.5"), "f >= 5.5");
  EXPECT_EQ(golden("f|fieldref: g"), "f == g");
  EXPECT_EQ(golden("f|neq: a"), R"(not (f != null and f : "a"))");
  EXPECT_EQ(golden("f|neq: 5"), R"(not (f != null and f == 5))");
  // Null and the empty string are different things.
  EXPECT_EQ(golden("f: null"), "f == null");
  EXPECT_EQ(golden("f: ''"), R"(f : "")");
  EXPECT_EQ(golden("f: [1, 2]"), "f in (1, 2)");
  EXPECT_EQ(golden("f: true"), "f == true");
  EXPECT_EQ(golden("f: '5'"), R"(f : "5")");
  EXPECT_EQ(golden("'field name': x"), R"(`field name` : "x")");
  // A field named as an EQL keyword is quoted.
  EXPECT_EQ(golden("sequence: x"), R"(`sequence` : "x")");
  // Fields ECS types as addresses compare by value.
  EXPECT_EQ(golden("destination.ip: [127.0.0.1, 10.0.0.1]"),
            R"(destination.ip in ("127.0.0.1", "10.0.0.1"))");
}

TEST(Sigma, BadModifiersAreErrorsAtTheirPlace) {
  std::string error = first_error("  sel:\n    f|bogus: x\n  condition: sel\n");
  EXPECT_NE(error.find("rule.yml:6:5"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown modifier `bogus`"), std::string::npos) << error;
  EXPECT_NE(first_error("  sel:\n    f|all: x\n  condition: sel\n").find("at least two"),
            std::string::npos);
  EXPECT_NE(first_error("  sel:\n    f|re: '(?=x)'\n  condition: sel\n").find("Lucene"),
            std::string::npos);
  EXPECT_NE(first_error("  sel:\n    f|re: 'a\\1'\n  condition: sel\n").find("back-reference"),
            std::string::npos);
  EXPECT_NE(first_error("  sel:\n    f|expand: '%x%'\n  condition: sel\n").find("placeholder"),
            std::string::npos);
  EXPECT_NE(first_error("  sel:\n    f|lt: x\n  condition: sel\n").find("number"),
            std::string::npos);
  // Every problem is reported, not only the first.
  Rendered both = render("  a:\n    f|bogus: x\n  b:\n    g|lt: y\n  condition: a or b\n");
  EXPECT_EQ(both.diagnostics.error_count(), 2u);
}

TEST(Sigma, Keywords) {
  EXPECT_EQ(render("  keywords:\n    - a\n    - 'b*'\n  condition: keywords\n").eql,
            R"(message : ("*a*", "*b*"))");
  EXPECT_EQ(render("  keywords:\n    '|all':\n      - a\n      - b\n  condition: keywords\n").eql,
            R"(message : "*a*" and message : "*b*")");
}

TEST(Sigma, ConditionGrammar) {
  const std::string searches =
      "  sel_a:\n    a: 1\n  sel_b:\n    b: 2\n  filter:\n    c: 3\n  _hidden:\n    d: 4\n";
  auto condition = [&](const std::string& text) {
    return render(searches + "  condition: " + text + "\n").eql;
  };
  EXPECT_EQ(condition("sel_a and not filter"), "a == 1 and not (c != null and c == 3)");
  EXPECT_EQ(condition("1 of sel_*"), "a == 1 or b == 2");
  EXPECT_EQ(condition("all of sel_*"), "a == 1 and b == 2");
  EXPECT_EQ(condition("1 of them"), "a == 1 or b == 2 or c == 3");
  EXPECT_EQ(condition("all of them"), "a == 1 and b == 2 and c == 3");
  EXPECT_EQ(condition("sel_a or sel_b and not filter"),
            "a == 1 or b == 2 and not (c != null and c == 3)");
  EXPECT_EQ(condition("(sel_a or sel_b) and _hidden"), "(a == 1 or b == 2) and d == 4");
  EXPECT_EQ(condition("not 1 of sel_* and filter"),
            "not (a != null and a == 1 or b != null and b == 2) and c == 3");
  // Double negation guards nothing.
  EXPECT_EQ(condition("not not sel_a"), "not not a == 1");
  // A list of conditions is OR-ed.
  EXPECT_EQ(render(searches + "  condition:\n    - sel_a\n    - sel_b\n").eql, "a == 1 or b == 2");
  for (const char* bad :
       {"sel_a and", "(sel_a", "nope", "2 of sel_*", "sel_a | count() > 5", "1 of zzz*"}) {
    Rendered out = render(searches + "  condition: " + bad + "\n");
    EXPECT_TRUE(out.diagnostics.has_errors()) << bad;
    EXPECT_TRUE(out.eql.empty()) << bad;
  }
}

// Numbers past their type's range are problems of the rule, said with its
// line, not a failure of the whole load.
TEST(Sigma, CorrelationNumbersOutOfRangeAreProblems) {
  for (const char* correlation :
       {"{type: event_count, rules: [b], timespan: 1m, condition: {gte: 1e999}}",
        "{type: event_count, rules: [b], timespan: 99999999999999999999m, condition: {gte: 1}}"}) {
    auto source = std::make_shared<SourceFile>(
        "big.yml", std::string("title: a\ncorrelation: ") + correlation + "\n");
    Diagnostics diagnostics(source);
    sigma::parse_rules(source, diagnostics);
    ASSERT_EQ(diagnostics.error_count(), 1u) << correlation;
    EXPECT_EQ(diagnostics.items()[0].code, "sigma-correlation");
    EXPECT_NE(diagnostics.items()[0].message.find("out of range"), std::string::npos)
        << diagnostics.items()[0].message;
    EXPECT_EQ(source->position(diagnostics.items()[0].span.begin).line, 2u);
  }
}

TEST(Sigma, RuleProblemsNameTheirLine) {
  auto source = std::make_shared<SourceFile>("bad.yml", "title: x\ndetection:\n  sel: [a\n");
  Diagnostics diagnostics(source);
  EXPECT_FALSE(sigma::parse_rule(source, diagnostics));
  ASSERT_TRUE(diagnostics.has_errors());
  EXPECT_EQ(diagnostics.items()[0].code, "yaml-syntax");
  // A problem in a later document names its line in the file.
  auto second = std::make_shared<SourceFile>(
      "two.yml",
      "title: a\ncorrelation: {type: temporal, rules: [b], timespan: 1m}\n---\n"
      "title: b\nlogsource: {product: linux}\ndetection:\n  sel: [a\n");
  Diagnostics in_second(second);
  sigma::parse_rules(second, in_second);
  ASSERT_TRUE(in_second.has_errors());
  EXPECT_GE(second->position(in_second.items()[0].span.begin).line, 6u)
      << render_text(in_second.items()[0]);
  // Streams on which the YAML library's own multi-document loader loops for ever.
  for (const char* text : {",", ",(wheAre pr.", "a: b\n---\n,\n"}) {
    auto stray = std::make_shared<SourceFile>("stray.yml", text);
    Diagnostics problems(stray);
    sigma::parse_rules(stray, problems);
    EXPECT_TRUE(problems.has_errors()) << text;
  }
  auto missing = std::make_shared<SourceFile>("missing.yml", "title: x\nlogsource: {}\n");
  Diagnostics more(missing);
  EXPECT_FALSE(sigma::parse_rule(missing, more));
  EXPECT_EQ(more.items().back().code, "sigma-no-detection");
}

// Rendered rules run: Sigma's semantics hold on events.
TEST(Sigma, RenderedRulesMatchAsSigmaMeans) {
  const std::vector<std::string> lines = {
      R"({"@timestamp":1,"event":{"category":"process","sequence":1},"f":"ABC"})",
      R"({"@timestamp":2,"event":{"category":"process","sequence":2},"f":"a*b"})",
      R"({"@timestamp":3,"event":{"category":"process","sequence":3},"f":"axb"})",
      R"({"@timestamp":4,"event":{"category":"process","sequence":4},"g":"abc"})",
      R"({"@timestamp":5,"event":{"category":"process","sequence":5},"f":"run /x now"})",
      R"({"@timestamp":6,"event":{"category":"process","sequence":6},"f":"cmd YWJj"})",
      R"({"@timestamp":7,"event":{"category":"process","sequence":7},"f":"cmd xhYmx"})",
      R"({"@timestamp":8,"event":{"category":"process","sequence":8},"f":""})",
  };
  std::string input;
  for (const std::string& line : lines) input += line + "\n";
  auto matching = [&](const std::string& detection) {
    Rendered out = render(detection);
    EXPECT_FALSE(out.eql.empty()) << detection;
    std::set<int> found;
    for (const std::string& result : run_stream("any where " + out.eql, input).results)
      for (size_t i = 0; i < lines.size(); ++i)
        if (result == lines[i]) found.insert(static_cast<int>(i) + 1);
    return found;
  };
  EXPECT_EQ(matching("  s:\n    f: abc\n  condition: s\n"), (std::set<int>{1}));
  EXPECT_EQ(matching("  s:\n    f|cased: abc\n  condition: s\n"), (std::set<int>{}));
  EXPECT_EQ(matching("  s:\n    f: 'a*b'\n  condition: s\n"), (std::set<int>{2, 3}));
  EXPECT_EQ(matching("  s:\n    f: 'a\\*b'\n  condition: s\n"), (std::set<int>{2}));
  // An event without the field passes `not` (event 4 has no f).
  EXPECT_EQ(matching("  s:\n    f: axb\n  condition: not s\n"),
            (std::set<int>{1, 2, 4, 5, 6, 7, 8}));
  EXPECT_EQ(matching("  s:\n    f|windash|contains: ' -x'\n  condition: s\n"), (std::set<int>{5}));
  EXPECT_EQ(matching("  s:\n    f|base64offset|contains: abc\n  condition: s\n"),
            (std::set<int>{6, 7}));
  EXPECT_EQ(matching("  s:\n    f: ''\n  condition: s\n"), (std::set<int>{8}));
  EXPECT_EQ(matching("  s:\n    f: null\n  condition: s\n"), (std::set<int>{4}));
  EXPECT_EQ(matching("  s:\n    f|exists: true\n  condition: s\n"),
            (std::set<int>{1, 2, 3, 5, 6, 7, 8}));
  EXPECT_EQ(matching("  s:\n    f|re: 'x.$'\n  condition: s\n"), (std::set<int>{3}));
  EXPECT_EQ(matching("  s:\n    f|re: '^x'\n  condition: s\n"), (std::set<int>{}));
  EXPECT_EQ(matching("  s:\n    f|re: 'x.'\n  condition: s\n"), (std::set<int>{3, 5, 7}));
}

TEST(Sigma, MappingFilesAddLogsourcesAndOverrideFields) {
  sigma::Mapping mapping;
  sigma::Logsource syslog{"linux", "", "syslog"};
  EXPECT_EQ(mapping.find(syslog), nullptr);
  const sigma::LogsourceMapping* process = mapping.find({"linux", "process_creation", ""});
  ASSERT_NE(process, nullptr);
  EXPECT_EQ(mapping.field(*process, "CommandLine").field, "process.command_line");
  auto source = std::make_shared<SourceFile>(
      "mine.yml",
      "logsources:\n"
      "  - product: linux\n    service: syslog\n    eql_category: any\n"
      "    conditions: 'event.dataset == \"system.syslog\"'\n"
      "  - product: linux\n    category: process_creation\n    eql_category: process\n"
      "    fields:\n      CommandLine: process.args\n");
  Diagnostics diagnostics(source);
  ASSERT_TRUE(mapping.add_file(source, diagnostics));
  ASSERT_NE(mapping.find(syslog), nullptr);
  process = mapping.find({"linux", "process_creation", ""});
  ASSERT_NE(process, nullptr);
  EXPECT_EQ(mapping.field(*process, "CommandLine").field, "process.args");
  // A field the file does not map falls back to the built-in entry.
  EXPECT_EQ(mapping.field(*process, "Image").field, "process.executable");
  // A category must be named by the entry that takes it.
  EXPECT_EQ(mapping.find({"linux", "process_access", ""}), nullptr);
  // Bad files say where.
  auto bad = std::make_shared<SourceFile>("bad.yml", "logsources:\n  - eql_category: any\n");
  Diagnostics problems(bad);
  EXPECT_FALSE(mapping.add_file(bad, problems));
  EXPECT_EQ(problems.items().at(0).code, "sigma-mapping");
}

TEST(Sigma, RulesInFoldersAreTheYamlThatLooksLikeSigma) {
  EXPECT_TRUE(sigma::looks_like_sigma("title: x\ndetection:\n  a: b\n"));
  EXPECT_TRUE(sigma::looks_like_sigma("title: x\ncorrelation:\n  type: event_count\n"));
  EXPECT_FALSE(sigma::looks_like_sigma("value_lists:\n  x: y.txt\nexceptions: []\n"));
  // The bundled pack's folder holds tuning YAML, which is no rule.
  LoadResult loaded = load_rules({std::string(PICKAXE_SOURCE_DIR) + "/rules"});
  // The 19 EQL rules, 2 Sigma rules and the scan rules; tuning/*.yaml is not among them.
  ASSERT_EQ(loaded.rules.size(), 21u + scan_rule_count());
  EXPECT_EQ(std::count_if(loaded.rules.begin(), loaded.rules.end(),
                          [](const Rule& rule) { return rule.format == RuleFormat::Sigma; }),
            2);
  for (const Diagnostics& file : loaded.file_diagnostics) EXPECT_FALSE(file.has_errors());
  for (const Rule& rule : loaded.rules) EXPECT_TRUE(rule.loaded()) << rule.path;
}

// Every SigmaHQ rule in the conformance set loads or is skipped with a reason.
TEST(Sigma, EverySigmaHQRuleLoadsOrIsSkippedWithAReason) {
  PICKAXE_REQUIRE_SHARED("conformance/sigma/rules");
  const std::string root = shared_dir() + "/conformance/sigma";
  LoadResult loaded = load_rules({root + "/rules", root + "/rules-emerging-threats"});
  EXPECT_EQ(loaded.files_read, 354u);
  size_t skipped = 0;
  for (const Diagnostics& file : loaded.file_diagnostics) {
    for (const Diagnostic& d : file.items()) {
      EXPECT_EQ(d.severity, Severity::Note) << render_text(d);
      EXPECT_EQ(d.code, "sigma-skipped");
      EXPECT_NE(d.message.find("no mapping for logsource {"), std::string::npos) << d.message;
      ++skipped;
    }
  }
  for (const Rule& rule : loaded.rules) {
    std::string messages;
    for (const Diagnostic& d : rule.diagnostics.items()) messages += render_text(d);
    EXPECT_TRUE(rule.loaded()) << rule.path << "\n" << messages;
    EXPECT_EQ(rule.format, RuleFormat::Sigma);
    EXPECT_FALSE(rule.author.empty()) << rule.path;
  }
  EXPECT_EQ(loaded.rules.size() + skipped, 354u);
  EXPECT_EQ(loaded.rules.size(), 286u);  // the README's figure
  EXPECT_EQ(skipped, 68u);
}

// The telemetry files of the validate emulations, as hunt arguments.
std::string emulation_telemetry() {
  std::vector<std::string> telemetry;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           std::string(PICKAXE_SOURCE_DIR) + "/emulations")) {
    const std::string name = entry.path().filename().string();
    if (name == "endpoint.ndjson" || name == "audit.log" || name == "sysmon.log" ||
        name == "cloudtrail.json" || name == "docker.ndjson")
      telemetry.push_back(entry.path().string());
  }
  std::sort(telemetry.begin(), telemetry.end());
  std::string arguments;
  for (const std::string& file : telemetry) arguments += " " + file;
  return arguments;
}

// The pack's own Sigma rules hunt through the emulations and catch test 1
// (the miner) and test 2 (the pool lookup) from their Sigma form.
TEST(Sigma, PackSigmaRulesHuntTheEmulations) {
  int exit_code = -1;
  std::string out = run_command(
      fmt::format("{} hunt --detection-time 2026-11-29T00:00:00.000Z --rules {}/rules/sigma{} "
                  "2>/dev/null",
                  PICKAXE_BINARY, PICKAXE_SOURCE_DIR, emulation_telemetry()),
      exit_code);
  ASSERT_EQ(exit_code, 0);
  simdjson::dom::parser parser;
  std::multiset<std::string> hosts_by_rule;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element alert = parser.parse(line).value();
    hosts_by_rule.insert(std::string(alert["kibana.alert.rule.name"].get_string().value()) + " @ " +
                         value_at(alert, "host.name"));
    EXPECT_EQ(alert["kibana.alert.rule.author"].get_array().value().at(0).get_string().value(),
              "pickaxe");
  }
  EXPECT_EQ(hosts_by_rule.count("Cryptominer Started from a Malicious Image @ k8s-node-2"), 2u)
      << out;  // Elastic Defend and auditd
  EXPECT_EQ(hosts_by_rule.count("DNS Lookup of a Monero Mining Pool @ dev-vm-4"), 1u) << out;
  EXPECT_EQ(hosts_by_rule.size(), 8u) << out;
}

// SigmaHQ's cryptominer rules hunt through the validate emulations, and
// their alerts carry the rule's author.
TEST(Sigma, SigmaHQMinerRulesHuntTheEmulations) {
  PICKAXE_REQUIRE_SHARED("conformance/sigma/rules");
  const std::string rules = shared_dir() + "/conformance/sigma/rules/";
  std::string arguments;
  for (const char* rule :
       {"linux/auditd/execve/lnx_auditd_coinminer.yml",
        "linux/process_creation/proc_creation_lnx_crypto_mining.yml",
        "linux/network_connection/net_connection_lnx_crypto_mining_indicators.yml",
        "network/dns/net_dns_pua_cryptocoin_mining_xmr.yml",
        "network/zeek/zeek_dns_mining_pools.yml",
        "linux/process_creation/proc_creation_lnx_crontab_removal.yml"})
    arguments += " --rules " + rules + rule;
  arguments += emulation_telemetry();
  int exit_code = -1;
  std::string out =
      run_command(fmt::format("{} hunt --detection-time 2026-11-29T00:00:00.000Z{} 2>/dev/null",
                              PICKAXE_BINARY, arguments),
                  exit_code);
  ASSERT_EQ(exit_code, 0);
  simdjson::dom::parser parser;
  std::multiset<std::string> rules_alerted;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element alert = parser.parse(line).value();
    std::string name(alert["kibana.alert.rule.name"].get_string().value());
    rules_alerted.insert(name);
    simdjson::dom::array authors = alert["kibana.alert.rule.author"].get_array().value();
    ASSERT_EQ(authors.size(), 1u);
    EXPECT_EQ(authors.at(0).get_string().value(), "Florian Roth (Nextron Systems)") << name;
  }
  // Test 1 (a miner in a container) on three hosts (auditd's command line is joined from
  // EXECVE), fp-1 and fp-3; test 2's pool lookup and connection; fp-1's pool lookup.
  EXPECT_EQ(rules_alerted.count("Linux Crypto Mining Indicators"), 5u) << out;
  EXPECT_EQ(rules_alerted.count("Monero Crypto Coin Mining Pool Lookup"), 2u) << out;
  EXPECT_EQ(rules_alerted.count("Linux Crypto Mining Pool Connections"), 1u) << out;
}

TEST(Sigma, ConvertPrintsTheQueryARuleRunsAs) {
  PICKAXE_REQUIRE_SHARED("conformance/sigma/rules");
  const std::string rule = shared_dir() +
                           "/conformance/sigma/rules/linux/process_creation/"
                           "proc_creation_lnx_crontab_removal.yml";
  int exit_code = -1;
  std::string out =
      run_command(fmt::format("{} convert --to eql {} 2>&1", PICKAXE_BINARY, rule), exit_code);
  EXPECT_EQ(exit_code, 0) << out;
  EXPECT_EQ(out,
            "process where (event.type == \"start\" and (host.os.type == null or host.os.type == "
            "\"linux\")) and process.executable : \"*crontab\" and process.command_line : \"* "
            "-r*\"\n");
  // The built-in mapping, printed, is a mapping file.
  std::string mapping =
      run_command(fmt::format("{} convert --print-mapping", PICKAXE_BINARY), exit_code);
  EXPECT_EQ(exit_code, 0);
  sigma::Mapping reloaded;
  Diagnostics diagnostics;
  EXPECT_TRUE(reloaded.add_file(std::make_shared<SourceFile>("printed.yml", mapping), diagnostics));
  EXPECT_EQ(reloaded.entries().size(), 2 * sigma::Mapping().entries().size());
  // A bad mapping file is a usage error, named.
  out = run_command(
      fmt::format("{} convert --sigma-mapping /nonexistent.yml {} 2>&1", PICKAXE_BINARY, rule),
      exit_code);
  EXPECT_EQ(exit_code, 2);
  EXPECT_NE(out.find("/nonexistent.yml"), std::string::npos) << out;
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

// What an alert says of the events it is about, for comparing two runs.
std::multiset<std::string> alert_events(const std::string& ndjson) {
  std::multiset<std::string> out;
  simdjson::dom::parser parser;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element alert = parser.parse(line).value();
    simdjson::dom::element building_block;
    bool block = alert["kibana.alert.building_block_type"].get(building_block) == simdjson::SUCCESS;
    std::string_view time;
    if (alert["kibana.alert.original_time"].get_string().get(time) != simdjson::SUCCESS) time = {};
    out.insert(fmt::format("{} {} {} {}", block ? "block" : "alert", time,
                           value_at(alert, "host.name"), value_at(alert, "process.command_line")));
  }
  return out;
}

std::string hunt_output(const std::string& rules, const std::string& inputs) {
  int exit_code = -1;
  std::string out = run_command(
      fmt::format("{} hunt --detection-time 2026-11-29T00:00:00.000Z --rules {}{} 2>/dev/null",
                  PICKAXE_BINARY, rules, inputs),
      exit_code);
  EXPECT_EQ(exit_code, 0) << rules;
  return out;
}

// EQL -> Sigma -> EQL: every rule of the pack, written as Sigma and read
// back, raises the same alerts on the validate emulations.
TEST(SigmaExport, PackRoundTripGivesTheSameAlerts) {
  const std::string telemetry = emulation_telemetry();
  size_t alerts = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(PICKAXE_SOURCE_DIR) + "/rules/t1204_003")) {
    if (entry.path().extension() != ".toml") continue;
    const std::string rule = entry.path().string();
    int exit_code = -1;
    std::string sigma = run_command(
        fmt::format("{} convert --to sigma {} 2>/dev/null", PICKAXE_BINARY, rule), exit_code);
    ASSERT_EQ(exit_code, 0) << rule << "\n" << sigma;
    const std::string path = std::filesystem::temp_directory_path() /
                             fmt::format("pickaxe-roundtrip-{}.yml", ::getpid());
    std::ofstream(path) << sigma;
    std::multiset<std::string> original = alert_events(hunt_output(rule, telemetry));
    std::multiset<std::string> round_trip = alert_events(hunt_output(path, telemetry));
    std::filesystem::remove(path);
    EXPECT_EQ(original, round_trip) << rule << "\n" << sigma;
    alerts += original.size();
  }
  EXPECT_GT(alerts, 20u);  // the pack catches the emulated tests
}

TEST(SigmaExport, SequencesBecomeOrderedCorrelations) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string eql = dir / fmt::format("pickaxe-sequence-{}.eql", ::getpid());
  const std::string yml = dir / fmt::format("pickaxe-sequence-{}.yml", ::getpid());
  const std::string events = dir / fmt::format("pickaxe-sequence-{}.ndjson", ::getpid());
  std::ofstream(eql) << "sequence by host.name with maxspan=1m\n"
                        "  [process where event.type == \"start\" and process.name == \"curl\"] "
                        "by user.name\n"
                        "  [network where event.type == \"start\" and destination.port == 3333] "
                        "by source.user.name\n";
  {
    std::ofstream out(events);
    for (auto [second, kind, user, host] :
         std::vector<std::tuple<int, std::string, std::string, std::string>>{
             {0, "process", "bob", "a"},
             {10, "network", "bob", "a"},
             {20, "process", "eve", "b"},
             {30, "network", "bob", "b"},
             {40, "network", "eve", "b"},
             {200, "process", "bob", "a"},
             {300, "network", "bob", "a"}}) {
      out << fmt::format(
                 R"({{"@timestamp":"2026-01-01T00:{:02}:{:02}Z","event":{{"category":["{}"],"type":["start"]}},"host":{{"name":"{}"}},"user":{{"name":"{}"}},"source":{{"user":{{"name":"{}"}}}},"process":{{"name":"curl"}},"destination":{{"port":3333}}}})",
                 second / 60, second % 60, kind, host, user, user)
          << "\n";
    }
  }
  int exit_code = -1;
  std::string sigma = run_command(
      fmt::format("{} convert --to sigma {} 2>/dev/null", PICKAXE_BINARY, eql), exit_code);
  ASSERT_EQ(exit_code, 0) << sigma;
  // stderr says the sequence became a correlation.
  std::string note = run_command(
      fmt::format("{} convert --to sigma {} 2>&1 >/dev/null", PICKAXE_BINARY, eql), exit_code);
  EXPECT_NE(note.find("written as a temporal_ordered correlation"), std::string::npos) << note;
  EXPECT_NE(sigma.find("type: temporal_ordered"), std::string::npos) << sigma;
  EXPECT_NE(sigma.find("timespan: 1m"), std::string::npos) << sigma;
  // The per-step keys differ: an alias joins them.
  EXPECT_NE(sigma.find("aliases:"), std::string::npos) << sigma;
  std::ofstream(yml) << sigma;
  std::multiset<std::string> original = alert_events(hunt_output(eql, " " + events));
  std::multiset<std::string> correlated = alert_events(hunt_output(yml, " " + events));
  // The same events, as building blocks (the sequence alerts differ in what they say).
  auto blocks = [](const std::multiset<std::string>& all) {
    std::multiset<std::string> out;
    for (const std::string& line : all)
      if (line.starts_with("block")) out.insert(line);
    return out;
  };
  EXPECT_EQ(blocks(original).size(), 4u);  // bob on a (twice), eve on b
  EXPECT_EQ(blocks(original), blocks(correlated)) << sigma;
  for (const auto& path : {eql, yml, events}) std::filesystem::remove(path);
}

TEST(SigmaExport, WhatSigmaCannotSayIsAnError) {
  const std::string path =
      std::filesystem::temp_directory_path() / fmt::format("pickaxe-export-{}.eql", ::getpid());
  for (auto [query, message] : std::vector<std::pair<std::string, std::string>>{
           {"sequence [process where true] [network where true]", "without maxspan"},
           {"sequence with maxspan=1m [process where a == 1] [network where b == 2] until "
            "[process where c == 3]",
            "no `until`"},
           {"sequence with maxspan=1m [process where a == 1] ![network where b == 2] [file "
            "where c == 3]",
            "missing-event"},
           {"sample by host.name [process where a == 1] [network where b == 2]", "sample"},
           {"process where length(process.name) > 3", "no Sigma form"},
           {"any where true", "every event"},
           {"process where process.name == \"x\" | head 3", "head or tail"}}) {
    std::ofstream(path) << query;
    int exit_code = -1;
    std::string out =
        run_command(fmt::format("{} convert --to sigma {} 2>&1", PICKAXE_BINARY, path), exit_code);
    EXPECT_EQ(exit_code, 1) << query << "\n" << out;
    EXPECT_NE(out.find(message), std::string::npos) << query << "\n" << out;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pickaxe::testing
