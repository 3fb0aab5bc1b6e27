// Every operator and function, with their null and array cases, evaluated
// against one event.
#include "match/expression.h"

#include <arpa/inet.h>

#include <cstring>

#include <fmt/format.h>

#include "ingest/shared_database.h"
#include "match/wildcard_set.h"
#include "test_util.h"

namespace pickaxe::testing {
namespace {

// Evaluates `condition` on the event; returns "true", "false" or "null".
std::string eval(const std::string& condition, const std::string& event_json,
                 CompileOptions options = {}) {
  Parsed parsed = parse("any where " + condition);
  EXPECT_TRUE(parsed.ok()) << condition << "\n" << parsed.messages();
  if (!parsed.ok()) return "parse error";
  Schema schema;
  FieldIndex fields;
  Diagnostics diagnostics(parsed.source);
  CompileContext context{schema, fields, &diagnostics, options};
  NodePtr node = compile_expression(*parsed.query().event.condition, context);
  EXPECT_FALSE(diagnostics.has_errors()) << condition;
  simdjson::dom::parser parser;
  simdjson::dom::element document = parser.parse(event_json).value();
  Event event;
  extract_fields(document, fields, schema, event);
  Tri result = test(*node, event);
  // The short-circuit forms filters use agree with the three-valued answer.
  EXPECT_EQ(holds(*node, event), result == Tri::True) << condition;
  EXPECT_EQ(refutes(*node, event), result == Tri::False) << condition;
  return result == Tri::True ? "true" : result == Tri::False ? "false" : "null";
}

const std::string kEvent = R"({
  "process": {"name": "XMRig", "pid": 42, "args": ["xmrig", "-o", "pool.minexmr.com:4444"], "ratio": 2.5,
              "parent": {"name": "containerd-shim"}},
  "destination": {"ip": "203.0.113.7", "port": 3333},
  "source.ip": "fd00::5",
  "user": {"name": "root"},
  "empty": "",
  "flag": true,
  "nothing": null,
  "hosts": [{"name": "a"}, {"name": "b"}],
  "path": "C:\\Windows\\System32\\cmd.exe"
})";

TEST(Evaluator, EqualityIsCaseSensitiveAndNeverExpandsWildcards) {
  EXPECT_EQ(eval("process.name == \"XMRig\"", kEvent), "true");
  EXPECT_EQ(eval("process.name == \"xmrig\"", kEvent), "false");
  EXPECT_EQ(eval("process.name == \"XMR*\"", kEvent), "false");
  EXPECT_EQ(eval("process.name != \"xmrig\"", kEvent), "true");
  EXPECT_EQ(eval("process.pid == 42", kEvent), "true");
  EXPECT_EQ(eval("process.pid == 42.0", kEvent), "true");
  EXPECT_EQ(eval("flag == true", kEvent), "true");
}

TEST(Evaluator, NullsAndMissingFields) {
  EXPECT_EQ(eval("missing == \"x\"", kEvent), "null");
  EXPECT_EQ(eval("missing != \"x\"", kEvent), "null");
  EXPECT_EQ(eval("not missing == \"x\"", kEvent), "null");
  EXPECT_EQ(eval("missing == null", kEvent), "true");
  EXPECT_EQ(eval("nothing == null", kEvent), "true");
  EXPECT_EQ(eval("process.name == null", kEvent), "false");
  EXPECT_EQ(eval("process.name != null", kEvent), "true");
  EXPECT_EQ(eval("?missing == null", kEvent), "true");
  EXPECT_EQ(eval("null == (missing > 1)", kEvent), "true");
  EXPECT_EQ(eval("missing > 1 or process.pid == 42", kEvent), "true");
  EXPECT_EQ(eval("missing > 1 and process.pid == 42", kEvent), "null");
  EXPECT_EQ(eval("missing > 1 and process.pid == 1", kEvent), "false");
}

TEST(Evaluator, NullsInAndOrNot) {
  // and: false wins over null; or: true wins over null; not keeps null.
  EXPECT_EQ(eval("missing == \"x\" and process.pid == 1", kEvent), "false");
  EXPECT_EQ(eval("missing == \"x\" and process.pid == 42", kEvent), "null");
  EXPECT_EQ(eval("missing == \"x\" or process.pid == 42", kEvent), "true");
  EXPECT_EQ(eval("missing == \"x\" or process.pid == 1", kEvent), "null");
  EXPECT_EQ(eval("not (missing == \"x\" and process.pid == 1)", kEvent), "true");
  EXPECT_EQ(eval("not (missing == \"x\" and process.pid == 42)", kEvent), "null");
  EXPECT_EQ(eval("not (missing == \"x\" or process.pid == 1)", kEvent), "null");
  EXPECT_EQ(eval("not not (process.pid == 42 and not missing == \"x\")", kEvent), "null");
  EXPECT_EQ(eval("process.pid == 42 and not (missing == \"x\" and process.pid == 1)", kEvent),
            "true");
  EXPECT_EQ(eval("(missing : \"x*\" or process.name : \"xmr*\") and not flag == false", kEvent),
            "true");
}

TEST(Evaluator, OrderingComparisons) {
  EXPECT_EQ(
      eval("process.pid < 43 and process.pid <= 42 and process.pid > 41 and process.pid >= 42",
           kEvent),
      "true");
  EXPECT_EQ(eval("process.ratio > 2", kEvent), "true");
  EXPECT_EQ(eval("process.name < \"a\"", kEvent), "true");  // byte order: 'X' < 'a'
  EXPECT_EQ(eval("process.name > 1", kEvent), "false");     // no order between text and numbers
}

TEST(Evaluator, ArraysMatchWhenAnyElementDoes) {
  EXPECT_EQ(eval("process.args == \"-o\"", kEvent), "true");
  EXPECT_EQ(eval("process.args != \"-o\"", kEvent),
            "false");  // must_not: an array holding it is no match
  EXPECT_EQ(eval("process.args : \"pool.*\"", kEvent), "true");
  EXPECT_EQ(eval("process.args in (\"nope\", \"xmrig\")", kEvent), "true");
  EXPECT_EQ(eval("process.args not in (\"xmrig\")", kEvent), "false");
  EXPECT_EQ(eval("hosts.name == \"b\"", kEvent), "true");  // a path through an array of objects
  EXPECT_EQ(eval("startsWith(process.args, \"pool\")", kEvent), "true");
}

TEST(Evaluator, WildcardsAndCase) {
  EXPECT_EQ(eval("process.name : \"xmr*\"", kEvent), "true");
  EXPECT_EQ(eval("process.name : (\"nope\", \"?MRIG\")", kEvent), "true");
  EXPECT_EQ(eval("process.name like \"xmr*\"", kEvent), "false");
  EXPECT_EQ(eval("process.name like \"XMR*\"", kEvent), "true");
  EXPECT_EQ(eval("process.name like~ \"xmr*\"", kEvent), "true");
  EXPECT_EQ(eval("process.name : \"XMRi\"", kEvent), "false");  // anchored to the whole value
  EXPECT_EQ(eval("path : \"C:\\\\Windows\\\\*.exe\"", kEvent), "true");  // backslash is literal
  EXPECT_EQ(eval("empty : \"*\"", kEvent), "true");
  EXPECT_EQ(eval("missing : \"*\"", kEvent), "null");
}

TEST(Evaluator, InLists) {
  EXPECT_EQ(eval("process.name in (\"XMRig\", \"minerd\")", kEvent), "true");
  EXPECT_EQ(eval("process.name in (\"xmrig\")", kEvent), "false");
  EXPECT_EQ(eval("process.name in~ (\"xmrig\")", kEvent), "true");
  EXPECT_EQ(eval("process.name in~ (\"xmr*\")", kEvent), "false");  // no wildcards in in~
  EXPECT_EQ(eval("process.pid in (1, 42)", kEvent), "true");
  EXPECT_EQ(eval("process.pid not in (1, 2)", kEvent), "true");
  EXPECT_EQ(eval("missing in (1, 2)", kEvent), "null");
  EXPECT_EQ(eval("process.name in (user.name, process.parent.name, \"XMRig\")", kEvent), "true");
}

TEST(Evaluator, RegexIsLuceneAndAnchored) {
  EXPECT_EQ(eval("process.name regex \"XM[A-Z]ig\"", kEvent), "true");
  EXPECT_EQ(eval("process.name regex \"XM\"", kEvent), "false");
  EXPECT_EQ(eval("process.name regex~ \"xm.*\"", kEvent), "true");
  EXPECT_EQ(eval("process.name regex \"xm.*\"", kEvent), "false");
  EXPECT_EQ(eval("process.name regex \"XM\\\\d.*\"", kEvent),
            "false");                                            // \d is the letter d in Lucene
  EXPECT_EQ(eval("process.name regex \"X@\"", kEvent), "true");  // @ is any string
  EXPECT_EQ(eval("missing regex \".*\"", kEvent), "null");
}

TEST(Evaluator, CidrMatchAndIpFields) {
  EXPECT_EQ(eval("cidrMatch(destination.ip, \"10.0.0.0/8\", \"203.0.113.0/24\")", kEvent), "true");
  EXPECT_EQ(eval("cidrMatch(destination.ip, \"10.0.0.0/8\")", kEvent), "false");
  EXPECT_EQ(eval("cidrMatch(source.ip, \"fc00::/7\")", kEvent), "true");
  EXPECT_EQ(eval("cidrMatch(source.ip, \"10.0.0.0/8\")", kEvent), "false");
  EXPECT_EQ(eval("cidrMatch(missing, \"10.0.0.0/8\")", kEvent), "null");
  // The seed dialect: `:` with CIDR literals on an ip field is membership.
  EXPECT_EQ(eval("destination.ip : (\"10.0.0.0/8\", \"203.0.113.0/24\")", kEvent), "true");
  EXPECT_EQ(eval("not destination.ip : (\"10.0.0.0/8\", \"127.0.0.0/8\")", kEvent), "true");
  EXPECT_EQ(eval("destination.ip == \"203.0.113.7\"", kEvent), "true");
}

TEST(Evaluator, Arithmetic) {
  EXPECT_EQ(eval("process.pid + 1 == 43", kEvent), "true");
  EXPECT_EQ(eval("process.pid - 50 == -8", kEvent), "true");
  EXPECT_EQ(eval("process.pid * 2 == 84", kEvent), "true");
  EXPECT_EQ(eval("process.pid / 5 == 8", kEvent), "true");  // integer division
  EXPECT_EQ(eval("process.pid / 5.0 == 8.4", kEvent), "true");
  EXPECT_EQ(eval("process.pid % 5 == 2", kEvent), "true");
  EXPECT_EQ(eval("-process.pid == -42", kEvent), "true");
  EXPECT_EQ(eval("process.pid / 0 == 1", kEvent), "null");
  EXPECT_EQ(eval("missing + 1 == 1", kEvent), "null");
  EXPECT_EQ(eval("add(1, 2) == 3 and subtract(5, 2) == 3 and multiply(2, 3) == 6", kEvent), "true");
  EXPECT_EQ(eval("divide(30, 4) == 7 and divide(30, 4.0) == 7.5 and modulo(7, 4) == 3", kEvent),
            "true");
  EXPECT_EQ(eval("add(missing, 1) == 1", kEvent), "null");
}

TEST(Evaluator, StringFunctions) {
  EXPECT_EQ(eval("between(\"welcome to the planet\", \"welcome\", \"e\") == \" to th\"", kEvent),
            "true");
  EXPECT_EQ(eval("between(\"welcome to the planet\", \"welcome\", \"e\", true) == \" to the plan\"",
                 kEvent),
            "true");
  EXPECT_EQ(eval("between~(\"WELCOME home\", \"welcome \", \"E\") == \"hom\"", kEvent), "true");
  EXPECT_EQ(eval("between(missing, \"a\", \"b\") == \"\"", kEvent), "null");
  EXPECT_EQ(eval("concat(process.name, \"-\", process.pid) == \"XMRig-42\"", kEvent), "true");
  EXPECT_EQ(eval("concat(process.name, missing) == null", kEvent), "true");
  EXPECT_EQ(eval("endsWith(process.name, \"Rig\") and not endsWith(process.name, \"rig\")", kEvent),
            "true");
  EXPECT_EQ(eval("endsWith~(process.name, \"RIG\")", kEvent), "true");
  EXPECT_EQ(eval("startsWith(process.name, \"XM\") and startsWith~(process.name, \"xm\")", kEvent),
            "true");
  EXPECT_EQ(eval("startsWith(missing, \"x\")", kEvent), "null");
  EXPECT_EQ(eval("indexOf(process.name, \"R\") == 2 and indexOf~(process.name, \"r\", 3) == null",
                 kEvent),
            "true");
  EXPECT_EQ(eval("indexOf(process.name, \"zz\") == null", kEvent), "true");
  EXPECT_EQ(eval("length(process.name) == 5 and length(empty) == 0", kEvent), "true");
  EXPECT_EQ(eval("length(missing) == null", kEvent), "true");
  EXPECT_EQ(eval("number(\"42\") == 42 and number(\"0x2A\", 16) == 42 and number(\"2a\", 16) == 42",
                 kEvent),
            "true");
  EXPECT_EQ(
      eval("number(\"1.5\") == 1.5 and number(\"x\") == null and number(missing) == null", kEvent),
      "true");
  EXPECT_EQ(eval("string(process.pid) == \"42\" and string(missing) == null", kEvent), "true");
  EXPECT_EQ(
      eval("stringContains(process.name, \"MR\") and not stringContains(process.name, \"mr\")",
           kEvent),
      "true");
  EXPECT_EQ(eval("stringContains~(process.name, \"mr\")", kEvent), "true");
  EXPECT_EQ(
      eval("substring(process.name, 1, 3) == \"MR\" and substring(process.name, -3) == \"Rig\"",
           kEvent),
      "true");
  EXPECT_EQ(eval("substring(process.name, 10) == \"\" and substring(missing, 1) == null", kEvent),
            "true");
}

TEST(Evaluator, PythonModes) {
  CompileOptions python;
  python.insensitive_equality = true;
  python.wildcard_equality = true;
  EXPECT_EQ(eval("process.name == \"xmr*\"", kEvent, python), "true");
  EXPECT_EQ(eval("process.name != \"xmr*\"", kEvent, python), "false");
  EXPECT_EQ(eval("process.name in (\"xmrig\")", kEvent, python), "true");
}

TEST(Patterns, Timestamps) {
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00.123456789Z"), 123'456'789);
  EXPECT_EQ(parse_timestamp("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parse_timestamp("1970-01-02"), 86'400'000'000'000);
  EXPECT_EQ(parse_timestamp("1500"), 1'500'000'000);
  EXPECT_EQ(parse_timestamp("1.5"), 1'500'000);
  EXPECT_FALSE(parse_timestamp("yesterday").has_value());
  EXPECT_FALSE(parse_timestamp("2020-13-01").has_value());
  // Beyond the nanosecond range (1677-2262): no date, never an overflow.
  EXPECT_FALSE(parse_timestamp("4052-11-01T10:00:00.000Z").has_value());
  EXPECT_FALSE(parse_timestamp("99999999999999999").has_value());
  EXPECT_FALSE(millis_to_nanos(Scalar::of_long(INT64_MAX / 10)).has_value());
  EXPECT_FALSE(millis_to_nanos(Scalar::of_double(1e300)).has_value());
  EXPECT_EQ(millis_to_nanos(Scalar::of_long(1500)), 1'500'000'000);
}

}  // namespace
}  // namespace pickaxe::testing

#include <random>

namespace pickaxe::testing {
namespace {

// The Vectorscan database and the plain matcher agree on every input.
TEST(Patterns, WildcardSetAgreesWithThePlainMatcher) {
  std::mt19937 random(11);
  const std::string alphabet = "ab.*?\\-/ \xC3\xA9";
  auto draw = [&](size_t max_length, bool wildcards) {
    std::string out;
    size_t length = random() % (max_length + 1);
    for (size_t i = 0; i < length; ++i) {
      char c = alphabet[random() % alphabet.size()];
      if (!wildcards && (c == '*' || c == '?')) c = 'a';
      if (static_cast<unsigned char>(c) >= 0x80) {
        out += "\xC3\xA9";  // keep UTF-8 whole
        continue;
      }
      out += c;
    }
    return out;
  };
  size_t positives = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> patterns;
    for (int i = 0; i < 5; ++i) patterns.push_back(draw(6, true));
    WildcardSet set;
    std::string error;
    ASSERT_TRUE(set.compile(patterns, false, &error)) << error;
    for (int probe = 0; probe < 50; ++probe) {
      std::string text = draw(8, false);
      bool expected = false;
      for (const auto& pattern : patterns)
        expected = expected || wildcard_match(text, pattern, false);
      positives += expected;
      ASSERT_EQ(set.matches(text), expected)
          << "text '" << text << "' patterns " << patterns[0] << " | " << patterns[1] << " | "
          << patterns[2] << " | " << patterns[3] << " | " << patterns[4];
    }
  }
  EXPECT_GT(positives, 500u);  // the comparison is not all "no match"
}

// Rule programs built again from the same rules (a serve worker's partitions)
// share their databases: compiled once while one of them holds it.
TEST(Patterns, TheSamePatternsShareOneDatabase) {
  const std::vector<std::string> patterns = {"*xmrig*", "*minerd", "kdevtmpfs?",
                                             "*--donate-level*"};
  const std::vector<bool> caseless = {true, true, false, true};
  const SharedDatabaseCounts before = shared_database_counts();
  auto first = std::make_unique<FactoredWildcards>(patterns, caseless);
  FactoredWildcards second(patterns, caseless);
  FactoredWildcards other({"*xmrig*", "*minerd"}, {true, false});
  std::vector<uint32_t> found_first, found_second, found_other;
  first->match_all("/tmp/XMRig --donate-level=1", found_first);
  second.match_all("/tmp/XMRig --donate-level=1", found_second);
  other.match_all("/tmp/XMRig --donate-level=1", found_other);
  EXPECT_EQ(found_first, (std::vector<uint32_t>{0, 3}));
  EXPECT_EQ(found_second, found_first);
  EXPECT_EQ(found_other, (std::vector<uint32_t>{0}));
  SharedDatabaseCounts after = shared_database_counts();
  EXPECT_EQ(after.compiled - before.compiled, 2u);  // the first's and the other's
  EXPECT_EQ(after.shared - before.shared, 1u);      // the second took the first's
  // Held by the second, the database outlives the first.
  first.reset();
  found_second.clear();
  second.match_all("minerd", found_second);
  EXPECT_EQ(found_second, (std::vector<uint32_t>{1}));
  FactoredWildcards third(patterns, caseless);
  third.match_all("x", found_second);
  after = shared_database_counts();
  EXPECT_EQ(after.compiled - before.compiled, 2u);
  EXPECT_EQ(after.shared - before.shared, 2u);
  // Whole-value sets too.
  WildcardSet one, two;
  ASSERT_TRUE(one.compile({"*.onion", "pool.*"}, true));
  ASSERT_TRUE(two.compile({"*.onion", "pool.*"}, true));
  EXPECT_TRUE(two.matches("POOL.example"));
  EXPECT_FALSE(one.matches("example.pool"));
  const SharedDatabaseCounts last = shared_database_counts();
  EXPECT_EQ(last.compiled - after.compiled, 1u);
  EXPECT_EQ(last.shared - after.shared, 1u);
}

TEST(Evaluator, LongWildcardListsUseOneDatabase) {
  std::string list = "(\"a*\", \"b*\", \"*rig\", \"c?\", \"d\")";
  Parsed parsed = parse("any where process.name : " + list);
  Schema schema;
  FieldIndex fields;
  CompileContext context{schema, fields, nullptr, {}};
  NodePtr node = compile_expression(*parsed.query().event.condition, context);
  EXPECT_NE(node->wildcard_set, nullptr);
  EXPECT_EQ(eval("process.name : " + list, kEvent), "true");
  EXPECT_EQ(eval("process.name like " + list, kEvent), "false");  // case-sensitive: XMRig
  EXPECT_EQ(eval("process.name like~ " + list, kEvent), "true");
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST(Events, NestedDottedAndMixedKeysGiveTheSamePaths) {
  const char* condition = "process.parent.name == \"sh\" and process.pid == 7";
  EXPECT_EQ(eval(condition, R"({"process":{"parent":{"name":"sh"},"pid":7}})"), "true");
  EXPECT_EQ(eval(condition, R"({"process.parent.name":"sh","process.pid":7})"), "true");
  EXPECT_EQ(eval(condition, R"({"process":{"parent.name":"sh"},"process.pid":7})"), "true");
  EXPECT_EQ(eval(condition, R"({"process.parent":{"name":"sh"},"process":{"pid":7}})"), "true");
  // Arrays of arrays and of objects flatten.
  EXPECT_EQ(eval("tags == \"c\"", R"({"tags":[["a","b"],["c"]]})"), "true");
  EXPECT_EQ(eval("a.b.c == 3", R"({"a":[{"b":[{"c":1},{"c":3}]}]})"), "true");
}

TEST(Events, MappingTypesAliasesAndNullValues) {
  Schema schema(false);
  ASSERT_EQ(schema.load_mapping(R"(# a comment line
{"properties": {
  "category": {"type": "keyword"},
  "event": {"properties": {"category": {"type": "alias", "path": "category"}}},
  "code": {"type": "keyword"},
  "count": {"type": "long"},
  "flagged": {"type": "keyword", "null_value": "NONE"},
  "host": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
  "addr": {"type": "ip"}
}})"),
            "");
  EXPECT_EQ(schema.resolve("event.category"), "category");
  EXPECT_EQ(schema.type("host.keyword"), FieldType::Keyword);
  EXPECT_EQ(schema.type("addr"), FieldType::Ip);
  EXPECT_TRUE(schema.authoritative());
  FieldIndex fields;
  for (const char* path : {"category", "code", "count", "flagged"}) fields.add(path);
  simdjson::dom::parser parser;
  Event event;
  extract_fields(
      parser.parse(std::string(R"({"category":"process","code":123,"count":"45","flagged":null})"))
          .value(),
      fields, schema, event);
  EXPECT_EQ(event.fields[1].at(0),
            Scalar::of_string("123"));  // a number in a keyword field is text
  EXPECT_EQ(event.fields[2].at(0),
            Scalar::of_long(45));  // a numeric string in a long field is a number
  EXPECT_EQ(event.fields[3].at(0), Scalar::of_string("NONE"));  // null_value
  EXPECT_NE(schema.load_mapping("{\"nope\": 1}"), "");
  EXPECT_NE(schema.load_mapping("not json"), "");
}

}  // namespace
}  // namespace pickaxe::testing

namespace pickaxe::testing {
namespace {

TEST(Patterns, CidrTableAgreesWithEachRange) {
  std::vector<std::string> ranges = {
      "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",   "10.1.0.0/16", "0.0.0.0/32",
      "::1/128",    "fc00::/7",      "fe80::/10",      "2001:db8::/32", "203.0.113.7"};
  CidrTable table;
  std::vector<Cidr> cidrs;
  for (const auto& text : ranges) {
    auto cidr = parse_cidr(text);
    ASSERT_TRUE(cidr.has_value()) << text;
    table.add(*cidr);
    cidrs.push_back(*cidr);
  }
  std::mt19937 random(5);
  std::vector<std::string> probes = {
      "10.255.255.255", "11.0.0.0", "172.31.0.1",    "172.32.0.1",  "::1",         "::2",
      "fd12::1",        "fe80::1",  "2001:db8:1::1", "203.0.113.7", "203.0.113.8", "0.0.0.0",
      "::ffff:10.0.0.1"};
  for (int i = 0; i < 2000; ++i) {
    probes.push_back(
        fmt::format("{}.{}.{}.{}", random() % 256, random() % 256, random() % 256, random() % 256));
  }
  size_t inside = 0;
  for (const auto& probe : probes) {
    auto address = parse_ip(probe);
    ASSERT_TRUE(address.has_value()) << probe;
    bool expected = std::any_of(cidrs.begin(), cidrs.end(),
                                [&](const Cidr& c) { return c.contains(*address); });
    inside += expected;
    EXPECT_EQ(table.contains(*address), expected) << probe;
  }
  EXPECT_GT(inside, 20u);
  EXPECT_FALSE(parse_cidr("10.0.0.0/33").has_value());
  EXPECT_FALSE(parse_cidr("fe80::/129").has_value());
  EXPECT_FALSE(parse_cidr("bogus/8").has_value());
}

// IPv4 is read by hand: it must accept and reject exactly what inet_pton does.
TEST(Evaluator, IpAddressesReadAsTheSystemReadsThem) {
  std::vector<std::string> texts = {"1.2.3.4",  "255.255.255.255", "256.1.1.1", "01.2.3.4",
                                    "0.0.0.0",  "1.2.3",           "1.2.3.4.",  "1.2.3.4.5",
                                    ".1.2.3.4", "1..2.3",          "1.2.3.-4",  " 1.2.3.4",
                                    "1.2.3.4 ", "1.2.3.0x4",       "1.2.3.00",  "999.1.1.1",
                                    "1.2.3.4a", "::ffff:1.2.3.4",  "",          "10.0.0.010"};
  std::mt19937 random(11);
  const std::string alphabet = "0123456789.....:x ";
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (size_t n = 1 + random() % 16; n > 0; --n) text += alphabet[random() % alphabet.size()];
    texts.push_back(text);
  }
  auto part = [&] {
    unsigned value = random() % 300;
    return random() % 10 == 0 ? fmt::format("0{}", value) : std::to_string(value);
  };
  for (int i = 0; i < 5000; ++i)
    texts.push_back(fmt::format("{}.{}.{}.{}", part(), part(), part(), part()));
  size_t accepted = 0;
  for (const std::string& text : texts) {
    unsigned char expected[16] = {};
    bool system = inet_pton(text.find(':') == std::string::npos ? AF_INET : AF_INET6, text.c_str(),
                            text.find(':') == std::string::npos ? expected + 12 : expected) == 1;
    auto ours = parse_ip(text);
    ASSERT_EQ(ours.has_value(), system) << '"' << text << '"';
    if (!ours) continue;
    ++accepted;
    if (ours->v4) expected[10] = expected[11] = 0xFF;
    EXPECT_EQ(std::memcmp(ours->bytes.data(), expected, 16), 0) << text;
  }
  EXPECT_GT(accepted, 1000u);
}

}  // namespace
}  // namespace pickaxe::testing
