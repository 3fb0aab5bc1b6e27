#include "eql/lexer.h"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace pickaxe::eql {

namespace {

constexpr std::array<std::pair<std::string_view, TokenKind>, 19> kKeywords{{
    {"and", TokenKind::And},       {"or", TokenKind::Or},       {"not", TokenKind::Not},
    {"in", TokenKind::In},         {"like", TokenKind::Like},   {"regex", TokenKind::Regex},
    {"where", TokenKind::Where},   {"any", TokenKind::Any},     {"sequence", TokenKind::Sequence},
    {"sample", TokenKind::Sample}, {"join", TokenKind::Join},   {"by", TokenKind::By},
    {"with", TokenKind::With},     {"until", TokenKind::Until}, {"maxspan", TokenKind::Maxspan},
    {"of", TokenKind::Of},         {"true", TokenKind::True},   {"false", TokenKind::False},
    {"null", TokenKind::Null},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(const SourceFile& source, uint32_t begin, uint32_t end, Diagnostics& diagnostics)
      : text_(source.text()), pos_(begin), end_(end), diagnostics_(diagnostics) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    while (true) {
      skip_space_and_comments();
      if (pos_ >= end_) break;
      tokens.push_back(next());
    }
    tokens.push_back(Token{TokenKind::End, {end_, end_}, {}});
    return tokens;
  }

 private:
  char peek(uint32_t ahead = 0) const { return pos_ + ahead < end_ ? text_[pos_ + ahead] : '\0'; }

  void skip_space_and_comments() {
    while (pos_ < end_) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '/' && peek(1) == '/') {
        while (pos_ < end_ && text_[pos_] != '\n') ++pos_;
      } else if (c == '/' && peek(1) == '*') {
        uint32_t start = pos_;
        pos_ += 2;
        while (pos_ < end_ && !(text_[pos_] == '*' && peek(1) == '/')) ++pos_;
        if (pos_ >= end_) {
          diagnostics_.error("unterminated-comment", {start, start + 2},
                             "block comment is never closed", "close it with */");
        } else {
          pos_ += 2;
        }
      } else {
        break;
      }
    }
  }

  Token make(TokenKind kind, uint32_t start, std::string text = {}) {
    return Token{kind, {start, pos_}, std::move(text)};
  }

  Token next() {
    uint32_t start = pos_;
    char c = text_[pos_];
    if (is_identifier_start(c)) return identifier();
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return number();
    if (c == '"') return string();
    if (c == '\'') return single_quoted_string();
    if (c == '`') return quoted_identifier();
    if (c == '?' && (peek(1) == '"' || peek(1) == '\'')) {
      ++pos_;
      Token token = peek() == '"' ? string() : single_quoted_string();
      token.span.begin = start;
      token.legacy_string = true;
      diagnostics_.error("legacy-raw-string", token.span,
                         "?\"...\" raw strings are legacy EQL syntax",
                         "Elasticsearch EQL writes raw strings as \"\"\"...\"\"\"");
      return token;
    }
    ++pos_;
    switch (c) {
      case '(': return make(TokenKind::LeftParen, start);
      case ')': return make(TokenKind::RightParen, start);
      case '[': return make(TokenKind::LeftBracket, start);
      case ']': return make(TokenKind::RightBracket, start);
      case ',': return make(TokenKind::Comma, start);
      case '.': return make(TokenKind::Dot, start);
      case '|': return make(TokenKind::Pipe, start);
      case '?': return make(TokenKind::Question, start);
      case ':': return make(TokenKind::Colon, start);
      case '+': return make(TokenKind::Plus, start);
      case '-': return make(TokenKind::Minus, start);
      case '*': return make(TokenKind::Star, start);
      case '/': return make(TokenKind::Slash, start);
      case '%': return make(TokenKind::Percent, start);
      case '=':
        if (peek() == '=') {
          ++pos_;
          return make(TokenKind::Equal, start);
        }
        return make(TokenKind::Assign, start);
      case '!':
        if (peek() == '=') {
          ++pos_;
          return make(TokenKind::NotEqual, start);
        }
        if (peek() == '[') {
          ++pos_;
          return make(TokenKind::MissingOpen, start);
        }
        diagnostics_.error("unexpected-character", {start, pos_}, "unexpected character '!'",
                           "EQL negates with `not`, and writes inequality as `!=`");
        return make(TokenKind::Invalid, start);
      case '<':
        if (peek() == '=') {
          ++pos_;
          return make(TokenKind::LessEqual, start);
        }
        return make(TokenKind::Less, start);
      case '>':
        if (peek() == '=') {
          ++pos_;
          return make(TokenKind::GreaterEqual, start);
        }
        return make(TokenKind::Greater, start);
      default: break;
    }
    // Skip a whole UTF-8 sequence so the column stays right.
    while (pos_ < end_ && (static_cast<unsigned char>(text_[pos_]) & 0xC0) == 0x80) ++pos_;
    std::string shown = (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                            ? fmt::format("\\x{:02x}", static_cast<unsigned char>(c))
                            : std::string(text_.substr(start, pos_ - start));
    std::string hint;
    if (c == '&') hint = "EQL uses `and`";
    if (c == '~') hint = "`~` only follows `in`, `like`, `regex` or a function name, with no space";
    if (++invalid_characters_ <= kMaxInvalidCharacters) {
      diagnostics_.error("unexpected-character", {start, pos_},
                         fmt::format("unexpected character '{}'", shown), hint);
    } else if (invalid_characters_ == kMaxInvalidCharacters + 1) {
      diagnostics_.error(
          "unexpected-character", {start, pos_},
          "too many unexpected characters; the rest are not reported",
          "is this an EQL query? JSON events go to `pickaxe query` or `pickaxe hunt` as FILE");
    }
    return make(TokenKind::Invalid, start);
  }

  Token identifier() {
    uint32_t start = pos_;
    while (pos_ < end_ && is_identifier_char(text_[pos_])) ++pos_;
    std::string word(text_.substr(start, pos_ - start));
    if (peek() == '~') {
      ++pos_;
      if (word == "in") return make(TokenKind::InInsensitive, start, word);
      if (word == "like") return make(TokenKind::LikeInsensitive, start, word);
      if (word == "regex") return make(TokenKind::RegexInsensitive, start, word);
      return make(TokenKind::TildeIdentifier, start, word);
    }
    for (const auto& [keyword, kind] : kKeywords) {
      if (word == keyword) return make(kind, start, word);
    }
    return make(TokenKind::Identifier, start, word);
  }

  Token number() {
    uint32_t start = pos_;
    bool decimal = false;
    while (is_digit(peek())) ++pos_;
    if (peek() == '.' && is_digit(peek(1))) {
      decimal = true;
      ++pos_;
      while (is_digit(peek())) ++pos_;
    } else if (peek() == '.' && !is_identifier_start(peek(1))) {
      decimal = true;  // "1." is a decimal
      ++pos_;
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && is_digit(peek(2))))) {
      decimal = true;
      pos_ += 2;
      while (is_digit(peek())) ++pos_;
    }
    return make(decimal ? TokenKind::Decimal : TokenKind::Integer, start,
                std::string(text_.substr(start, pos_ - start)));
  }

  // Reads a \u{XXXX} escape; pos_ is at 'u'.
  void unicode_escape(std::string& out, uint32_t escape_start) {
    ++pos_;
    if (peek() != '{') {
      diagnostics_.error("bad-escape", {escape_start, pos_}, "invalid unicode escape",
                         "write code points as \\u{XXXX}, with 2 to 8 hex digits");
      return;
    }
    ++pos_;
    uint32_t digits_start = pos_;
    while (is_hex(peek())) ++pos_;
    uint32_t digits = pos_ - digits_start;
    bool closed = peek() == '}';
    if (closed) ++pos_;
    if (!closed || digits < 2 || digits > 8) {
      diagnostics_.error("bad-escape", {escape_start, pos_}, "invalid unicode escape",
                         "write code points as \\u{XXXX}, with 2 to 8 hex digits");
      return;
    }
    uint32_t code_point = std::stoul(std::string(text_.substr(digits_start, digits)), nullptr, 16);
    if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      diagnostics_.error("bad-escape", {escape_start, pos_},
                         fmt::format("\\u{{{:X}}} is not a Unicode scalar value", code_point));
      return;
    }
    append_utf8(out, code_point);
  }

  Token string() {
    uint32_t start = pos_;
    if (peek(1) == '"' && peek(2) == '"') return raw_string();
    ++pos_;
    std::string value;
    while (true) {
      if (pos_ >= end_ || text_[pos_] == '\n') {
        diagnostics_.error("unterminated-string", {start, start + 1}, "string is never closed",
                           "close it with \"; strings cannot span lines, use \\n or a "
                           "\"\"\"raw\"\"\" string");
        return make(TokenKind::String, start, std::move(value));
      }
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c != '\\') {
        value += c;
        ++pos_;
        continue;
      }
      uint32_t escape_start = pos_;
      ++pos_;
      char e = peek();
      switch (e) {
        case 'n':
          value += '\n';
          ++pos_;
          break;
        case 'r':
          value += '\r';
          ++pos_;
          break;
        case 't':
          value += '\t';
          ++pos_;
          break;
        case 'b':
          value += '\b';
          ++pos_;
          break;
        case 'f':
          value += '\f';
          ++pos_;
          break;
        case '"':
          value += '"';
          ++pos_;
          break;
        case '\'':
          value += '\'';
          ++pos_;
          break;
        case '\\':
          value += '\\';
          ++pos_;
          break;
        case 'u': unicode_escape(value, escape_start); break;
        default:
          if (pos_ < end_ && e != '\n') ++pos_;
          diagnostics_.error("bad-escape", {escape_start, pos_},
                             fmt::format("unknown escape sequence '\\{}'", e == '\n' ? ' ' : e),
                             "valid escapes are \\n \\r \\t \\b \\f \\\" \\' \\\\ and \\u{XXXX}; "
                             "write a backslash as \\\\ or use a \"\"\"raw\"\"\" string");
          break;
      }
    }
    return make(TokenKind::String, start, std::move(value));
  }

  Token raw_string() {
    uint32_t start = pos_;
    pos_ += 3;
    uint32_t content = pos_;
    while (pos_ + 2 < end_ &&
           !(text_[pos_] == '"' && text_[pos_ + 1] == '"' && text_[pos_ + 2] == '"'))
      ++pos_;
    if (pos_ + 2 >= end_) {
      pos_ = end_;
      diagnostics_.error("unterminated-string", {start, start + 3}, "raw string is never closed",
                         "close it with \"\"\"");
      Token token =
          make(TokenKind::String, start, std::string(text_.substr(content, end_ - content)));
      token.raw_string = true;
      return token;
    }
    // Quotes directly before the closing """ belong to the string, as in Elasticsearch.
    while (pos_ + 3 < end_ && text_[pos_ + 3] == '"') ++pos_;
    std::string value(text_.substr(content, pos_ - content));
    pos_ += 3;
    Token token = make(TokenKind::String, start, std::move(value));
    token.raw_string = true;
    return token;
  }

  Token single_quoted_string() {
    uint32_t start = pos_;
    ++pos_;
    std::string value;
    while (pos_ < end_ && text_[pos_] != '\'' && text_[pos_] != '\n') {
      if (text_[pos_] == '\\' && pos_ + 1 < end_ && text_[pos_ + 1] != '\n') ++pos_;
      value += text_[pos_++];
    }
    bool closed = peek() == '\'';
    if (closed) ++pos_;
    Token token = make(TokenKind::String, start, std::move(value));
    token.legacy_string = true;
    diagnostics_.error("single-quoted-string", token.span,
                       closed ? "EQL strings use double quotes" : "string is never closed",
                       "EQL strings use double quotes: \"...\"");
    return token;
  }

  Token quoted_identifier() {
    uint32_t start = pos_;
    ++pos_;
    std::string name;
    while (pos_ < end_) {
      if (text_[pos_] == '`') {
        if (peek(1) == '`') {
          name += '`';
          pos_ += 2;
          continue;
        }
        break;
      }
      if (text_[pos_] == '\n') break;
      name += text_[pos_++];
    }
    if (peek() == '`') {
      ++pos_;
    } else {
      diagnostics_.error("unterminated-identifier", {start, start + 1},
                         "backtick-quoted field name is never closed", "close it with `");
    }
    return make(TokenKind::QuotedIdentifier, start, std::move(name));
  }

  static constexpr int kMaxInvalidCharacters = 20;
  int invalid_characters_ = 0;
  std::string_view text_;
  uint32_t pos_;
  uint32_t end_;
  Diagnostics& diagnostics_;
};

}  // namespace

bool is_identifier_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '@';
}

bool is_identifier_char(char c) {
  return is_identifier_start(c) || is_digit(c);
}

bool is_keyword(std::string_view word) {
  for (const auto& entry : kKeywords) {
    if (entry.first == word) return true;
  }
  return false;
}

std::string_view token_kind_name(TokenKind kind) {
  switch (kind) {
    case TokenKind::End: return "end of query";
    case TokenKind::Identifier: return "identifier";
    case TokenKind::QuotedIdentifier: return "quoted field name";
    case TokenKind::TildeIdentifier: return "function name";
    case TokenKind::String: return "string";
    case TokenKind::Integer: return "integer";
    case TokenKind::Decimal: return "number";
    case TokenKind::LeftParen: return "'('";
    case TokenKind::RightParen: return "')'";
    case TokenKind::LeftBracket: return "'['";
    case TokenKind::RightBracket: return "']'";
    case TokenKind::MissingOpen: return "'!['";
    case TokenKind::Comma: return "','";
    case TokenKind::Dot: return "'.'";
    case TokenKind::Pipe: return "'|'";
    case TokenKind::Question: return "'?'";
    case TokenKind::Equal: return "'=='";
    case TokenKind::NotEqual: return "'!='";
    case TokenKind::Less: return "'<'";
    case TokenKind::LessEqual: return "'<='";
    case TokenKind::Greater: return "'>'";
    case TokenKind::GreaterEqual: return "'>='";
    case TokenKind::Assign: return "'='";
    case TokenKind::Colon: return "':'";
    case TokenKind::Plus: return "'+'";
    case TokenKind::Minus: return "'-'";
    case TokenKind::Star: return "'*'";
    case TokenKind::Slash: return "'/'";
    case TokenKind::Percent: return "'%'";
    case TokenKind::And: return "'and'";
    case TokenKind::Or: return "'or'";
    case TokenKind::Not: return "'not'";
    case TokenKind::In: return "'in'";
    case TokenKind::InInsensitive: return "'in~'";
    case TokenKind::Like: return "'like'";
    case TokenKind::LikeInsensitive: return "'like~'";
    case TokenKind::Regex: return "'regex'";
    case TokenKind::RegexInsensitive: return "'regex~'";
    case TokenKind::Where: return "'where'";
    case TokenKind::Any: return "'any'";
    case TokenKind::Sequence: return "'sequence'";
    case TokenKind::Sample: return "'sample'";
    case TokenKind::Join: return "'join'";
    case TokenKind::By: return "'by'";
    case TokenKind::With: return "'with'";
    case TokenKind::Until: return "'until'";
    case TokenKind::Maxspan: return "'maxspan'";
    case TokenKind::Of: return "'of'";
    case TokenKind::True: return "'true'";
    case TokenKind::False: return "'false'";
    case TokenKind::Null: return "'null'";
    case TokenKind::Invalid: return "invalid character";
  }
  return "token";
}

std::vector<Token> tokenize(const SourceFile& source, uint32_t begin, uint32_t end,
                            Diagnostics& diagnostics) {
  return Lexer(source, begin, end, diagnostics).run();
}

}  // namespace pickaxe::eql
