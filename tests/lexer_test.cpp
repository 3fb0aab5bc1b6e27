#include "eql/lexer.h"

#include "test_util.h"

namespace pickaxe::eql {
namespace {

std::vector<Token> lex(const std::string& text, Diagnostics* out = nullptr) {
  auto source = std::make_shared<SourceFile>("t.eql", text);
  Diagnostics diagnostics(source);
  auto tokens = tokenize(*source, diagnostics);
  if (out) *out = diagnostics;
  return tokens;
}

std::vector<TokenKind> kinds(const std::vector<Token>& tokens) {
  std::vector<TokenKind> out;
  for (const Token& token : tokens) out.push_back(token.kind);
  return out;
}

TEST(Lexer, KeywordsOperatorsAndInsensitiveForms) {
  auto tokens = lex("a in~ (1) like~ x regex~ y startsWith~(z) != == <= >= = : ![ ?f");
  EXPECT_EQ(kinds(tokens),
            (std::vector<TokenKind>{TokenKind::Identifier,   TokenKind::InInsensitive,
                                    TokenKind::LeftParen,    TokenKind::Integer,
                                    TokenKind::RightParen,   TokenKind::LikeInsensitive,
                                    TokenKind::Identifier,   TokenKind::RegexInsensitive,
                                    TokenKind::Identifier,   TokenKind::TildeIdentifier,
                                    TokenKind::LeftParen,    TokenKind::Identifier,
                                    TokenKind::RightParen,   TokenKind::NotEqual,
                                    TokenKind::Equal,        TokenKind::LessEqual,
                                    TokenKind::GreaterEqual, TokenKind::Assign,
                                    TokenKind::Colon,        TokenKind::MissingOpen,
                                    TokenKind::Question,     TokenKind::Identifier,
                                    TokenKind::End}));
  EXPECT_EQ(tokens[9].text, "startsWith");
}

TEST(Lexer, StringEscapesDecode) {
  Diagnostics diagnostics;
  auto tokens = lex(R"("a\"b\\c\n\t\u{41}\u{1F600}")", &diagnostics);
  ASSERT_EQ(tokens[0].kind, TokenKind::String);
  EXPECT_EQ(tokens[0].text, "a\"b\\c\n\tA\xF0\x9F\x98\x80");
  EXPECT_FALSE(diagnostics.has_errors());
}

TEST(Lexer, RawStringKeepsBackslashes) {
  auto tokens = lex(R"(x : """C:\Windows\*.exe""")");
  EXPECT_EQ(tokens[2].text, R"(C:\Windows\*.exe)");
  EXPECT_TRUE(tokens[2].raw_string);
}

TEST(Lexer, RawStringWithTrailingQuotes) {
  auto tokens = lex(R"(""""quoted"""")");
  EXPECT_EQ(tokens[0].text, "\"quoted\"");
}

TEST(Lexer, NumbersAndTimeUnits) {
  auto tokens = lex("5m 1.5 2e3 .5 10");
  EXPECT_EQ(kinds(tokens),
            (std::vector<TokenKind>{TokenKind::Integer, TokenKind::Identifier, TokenKind::Decimal,
                                    TokenKind::Decimal, TokenKind::Decimal, TokenKind::Integer,
                                    TokenKind::End}));
}

TEST(Lexer, CommentsAreSkipped) {
  auto tokens = lex("a // line\n/* block\n */ b");
  EXPECT_EQ(kinds(tokens),
            (std::vector<TokenKind>{TokenKind::Identifier, TokenKind::Identifier, TokenKind::End}));
}

TEST(Lexer, BacktickFieldWithEscapedBacktick) {
  auto tokens = lex("`a``b c`");
  EXPECT_EQ(tokens[0].kind, TokenKind::QuotedIdentifier);
  EXPECT_EQ(tokens[0].text, "a`b c");
}

TEST(Lexer, ReportsEveryLexicalErrorAndGoesOn) {
  Diagnostics diagnostics;
  auto tokens = lex("'single' \"bad \\q escape\" & \"open", &diagnostics);
  std::vector<std::string> codes;
  for (const auto& d : diagnostics.items()) codes.push_back(d.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"single-quoted-string", "bad-escape",
                                             "unexpected-character", "unterminated-string"}));
  EXPECT_EQ(diagnostics.items()[0].hint, "EQL strings use double quotes: \"...\"");
  EXPECT_EQ(tokens.back().kind, TokenKind::End);
}

TEST(Lexer, RejectsSurrogateAndOversizedEscapes) {
  Diagnostics diagnostics;
  lex(R"("\u{D800}" "\u{110000}" "\u{}")", &diagnostics);
  EXPECT_EQ(diagnostics.error_count(), 3u);
}

}  // namespace
}  // namespace pickaxe::eql

namespace pickaxe::eql {
namespace {

TEST(Lexer, FloodsOfInvalidCharactersAreCapped) {
  Diagnostics diagnostics;
  lex(std::string(500, '{'), &diagnostics);
  EXPECT_EQ(diagnostics.error_count(), 21u);
  EXPECT_NE(diagnostics.items().back().message.find("too many"), std::string::npos);
}

}  // namespace
}  // namespace pickaxe::eql
