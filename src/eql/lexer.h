// EQL lexer: turns query text into tokens with byte spans. Lexical mistakes
// (single quotes, bad escapes, unterminated strings) become diagnostics and
// the lexer carries on, so one pass reports all of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diag/diagnostic.h"

namespace pickaxe::eql {

enum class TokenKind : uint8_t {
  End,
  Identifier,        // process, @timestamp
  QuotedIdentifier,  // `field name`
  TildeIdentifier,   // startsWith~ (a case-insensitive function name)
  String,            // "text" or """raw"""; `text` holds the decoded value
  Integer,
  Decimal,
  LeftParen,
  RightParen,
  LeftBracket,
  RightBracket,
  MissingOpen,  // ![
  Comma,
  Dot,
  Pipe,
  Question,  // ?field
  Equal,     // ==
  NotEqual,  // !=
  Less,
  LessEqual,
  Greater,
  GreaterEqual,
  Assign,  // =  (only in `with maxspan=`; elsewhere a legacy comparison)
  Colon,   // :
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  // keywords
  And,
  Or,
  Not,
  In,
  InInsensitive,  // in~
  Like,
  LikeInsensitive,  // like~
  Regex,
  RegexInsensitive,  // regex~
  Where,
  Any,
  Sequence,
  Sample,
  Join,
  By,
  With,
  Until,
  Maxspan,
  Of,
  True,
  False,
  Null,
  Invalid,  // a character EQL has no use for; already reported
};

std::string_view token_kind_name(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::End;
  Span span;
  std::string text;  // identifier name, decoded string, or number digits
  bool raw_string = false;
  bool legacy_string = false;  // single-quoted or ?"..." raw string: reported, still usable
};

// Lexes text[begin, end) of the source. Spans are offsets into source.text().
std::vector<Token> tokenize(const SourceFile& source, uint32_t begin, uint32_t end,
                            Diagnostics& diagnostics);
inline std::vector<Token> tokenize(const SourceFile& source, Diagnostics& diagnostics) {
  return tokenize(source, 0, static_cast<uint32_t>(source.text().size()), diagnostics);
}

bool is_keyword(std::string_view word);
bool is_identifier_start(char c);
bool is_identifier_char(char c);

}  // namespace pickaxe::eql
