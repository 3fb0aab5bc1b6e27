#include "test_util.h"

namespace pickaxe::testing {
namespace {

std::string canonical(const std::string& query) {
  Parsed p = parse(query);
  EXPECT_TRUE(p.ok()) << p.messages();
  return eql::print(p.set);
}

TEST(Printer, CanonicalText) {
  EXPECT_EQ(canonical("process where a==1 and(b:\"x\" or c in~(\"A\",1))"),
            "process where a == 1 and (b : \"x\" or c in~ (\"A\", 1))");
  EXPECT_EQ(canonical("sequence by h with maxspan=5m [process where true] by p [network where "
                      "true] by p | head 3"),
            "sequence by h with maxspan=5m\n  [process where true] by p\n  [network where true] by "
            "p\n| head 3");
  EXPECT_EQ(canonical("any where \"\"\"a\\b\"\"\" == x"), "any where \"a\\\\b\" == x");
  EXPECT_EQ(canonical("any where (a - b) - (c - d) == -(x)"), "any where a - b - (c - d) == -x");
}

TEST(Printer, RoundTripsTrickyTrees) {
  std::vector<std::string> queries = {
      "any where (a or b) or c",
      "any where a or (b or c)",
      "any where not (a and b)",
      "any where not not a",
      "any where (-1) in (1, 2)",
      "any where - -x == 1",
      "any where 2 * (3 + 4) / (5 % 6) == 1.5e300",
      "any where a + (b in (1)) == 1",
      "any where (a + b) : \"x\"",
      "any where `weird name`.`and` == `sequence` and ?opt == null",
      "any where x == \"tab\\t quote\\\" nl\\n ctl\\u{01} emoji\\u{1F600}\"",
      "any where 0.1 + 1.0 + 100.0 == -0.0",
      "\"odd category\" where true",
      "`sequence` where true",
      "sequence [a where true] with runs=3 ![b where true] [c where true] until [d where true] | "
      "tail 1",
      "sample by k [a where true] by x [b where true] by y",
      "sequence [a where true] nor any where b",
  };
  for (const std::string& query : queries) {
    Parsed p = parse(query, false);
    ASSERT_TRUE(p.ok()) << query << "\n" << p.messages();
    EXPECT_EQ(round_trip_failure(p.set), "") << query;
  }
}

TEST(Printer, DetectsDifferencesInEquality) {
  Parsed a = parse("any where a == 1");
  Parsed b = parse("any where a == 2");
  Parsed c = parse("any where a != 1");
  Parsed d = parse("any where   a==1 ");
  EXPECT_FALSE(a.set == b.set);
  EXPECT_FALSE(a.set == c.set);
  EXPECT_TRUE(a.set == d.set);
}

}  // namespace
}  // namespace pickaxe::testing
