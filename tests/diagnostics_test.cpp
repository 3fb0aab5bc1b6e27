#include "test_util.h"

namespace pickaxe::testing {
namespace {

TEST(Diagnostics, RendersLocationCaretAndHint) {
  Parsed p = parse("process where\n  process.name = \"xmrig\"");
  ASSERT_EQ(p.diagnostics.items().size(), 1u);
  EXPECT_EQ(render_text(p.diagnostics.items()[0]),
            "test.eql:2:16: error[assignment-operator]: `=` is not a comparison in EQL\n"
            "   |\n"
            " 2 |   process.name = \"xmrig\"\n"
            "   |                ^\n"
            "  = hint: use == or :\n");
}

TEST(Diagnostics, ColumnsCountCodePointsAndKeepTabs) {
  auto source = std::make_shared<SourceFile>("f.eql", "any where\n\ta == \"\xC3\xA9\" and b = 1");
  Diagnostics diagnostics(source);
  eql::parse_query_set(*source, diagnostics);
  ASSERT_EQ(diagnostics.items().size(), 1u);
  Position position = source->position(diagnostics.items()[0].span.begin);
  EXPECT_EQ(position.line, 2u);
  EXPECT_EQ(position.column, 17u);
  std::string text = render_text(diagnostics.items()[0]);
  EXPECT_NE(text.find("\n   | \t               ^\n"), std::string::npos) << text;
}

TEST(Diagnostics, FirstLineOffsetsPlaceEmbeddedText) {
  SourceFile source("rule.toml", "line one\nline two", 10);
  EXPECT_EQ(source.position(9).line, 11u);
  EXPECT_EQ(source.line_text(11), "line two");
  EXPECT_EQ(source.line_text(3), "");
}

TEST(Diagnostics, CountsAndSorting) {
  auto source = std::make_shared<SourceFile>("x", "abc");
  Diagnostics diagnostics(source);
  diagnostics.warning("w", {2, 3}, "later");
  diagnostics.error("e", {0, 1}, "earlier");
  diagnostics.sort_by_position();
  EXPECT_EQ(diagnostics.items()[0].code, "e");
  EXPECT_EQ(diagnostics.error_count(), 1u);
  EXPECT_EQ(diagnostics.warning_count(), 1u);
}

}  // namespace
}  // namespace pickaxe::testing
