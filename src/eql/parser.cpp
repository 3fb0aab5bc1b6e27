#include "eql/parser.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "eql/lexer.h"
#include "util/strings.h"

namespace pickaxe::eql {

namespace {

bool starts_query(const Token& token, const Token& next) {
  switch (token.kind) {
    case TokenKind::Sequence:
    case TokenKind::Sample:
    case TokenKind::Join: return true;
    case TokenKind::Any:
    case TokenKind::Identifier:
    case TokenKind::String: return next.kind == TokenKind::Where;
    default: return false;
  }
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::Identifier: return fmt::format("identifier '{}'", token.text);
    case TokenKind::QuotedIdentifier: return fmt::format("field `{}`", token.text);
    case TokenKind::String: return "a string";
    case TokenKind::Integer:
    case TokenKind::Decimal: return fmt::format("number {}", token.text);
    default: return std::string(token_kind_name(token.kind));
  }
}

struct LegacyPipe {
  std::string_view name;
  std::string_view hint;
};

constexpr LegacyPipe kLegacyPipes[] = {
    {"count", "Elasticsearch EQL has no aggregation pipes; count alerts downstream"},
    {"unique", "Elasticsearch EQL has no `unique` pipe; deduplicate alerts downstream"},
    {"unique_count", "Elasticsearch EQL has no `unique_count` pipe"},
    {"filter", "move the condition into the `where` clause"},
    {"sort", "Elasticsearch EQL returns events in timestamp order and has no `sort` pipe"},
    {"window", "use `sequence ... with maxspan=` for time windows"},
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, Diagnostics& diagnostics)
      : tokens_(std::move(tokens)), diagnostics_(diagnostics) {}

  QuerySet query_set() {
    QuerySet set;
    if (at(TokenKind::End)) {
      diagnostics_.error("empty-query", current().span, "the query is empty",
                         "an event query reads `<category> where <condition>`");
      return set;
    }
    while (!at(TokenKind::End)) {
      set.alternatives.push_back(query());
      if (aborted_ || at(TokenKind::End)) break;
      if (at_word("nor")) {
        separator();
        continue;
      }
      if (starts_query(current(), peek(1))) {
        error(current(), "a second query starts here without a separator",
              "a rule holds one query; pickaxe also reads alternative queries joined by `nor`");
        continue;
      }
      std::string hint = keyword_case_hint(current());
      if (hint.empty() && current().kind == TokenKind::Identifier)
        hint = "join conditions with `and` or `or`";
      if (hint.empty() && at(TokenKind::RightParen)) hint = "this ')' has no matching '('";
      if (hint.empty() && at(TokenKind::RightBracket)) hint = "this ']' has no matching '['";
      error(current(), fmt::format("unexpected {} after the end of the query", describe(current())),
            hint);
      skip_to_next_query();
      if (at_word("nor")) separator();
    }
    return set;
  }

  // `nor` between two queries: the seed dialect's alternatives.
  void separator() {
    diagnostics_.warning(
        "nor-alternatives", current().span,
        "EQL has no `nor`; the queries it joins are read as alternatives, each alerting on its own",
        "split the rule into one rule per query, or combine event queries with `or`");
    advance();
    if (at(TokenKind::End)) error(current(), "expected a query after `nor`");
  }

  ExprPtr standalone_expression() {
    ExprPtr expr = expression();
    if (!aborted_ && !at(TokenKind::End)) {
      error(current(), fmt::format("unexpected {} after the expression", describe(current())));
    }
    return expr;
  }

 private:
  // ----- token access -------------------------------------------------------
  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool at(TokenKind kind) const { return current().kind == kind; }
  bool at_word(std::string_view word) const {
    return at(TokenKind::Identifier) && current().text == word;
  }
  const Token& advance() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    previous_end_ = token.span.end;
    return token;
  }
  bool accept(TokenKind kind) {
    if (!at(kind)) return false;
    advance();
    return true;
  }
  Span span_from(uint32_t begin) const { return {begin, std::max(begin, previous_end_)}; }

  // ----- errors and recovery ---------------------------------------------------
  void error(const Token& token, std::string message, std::string hint = {}) {
    size_t index = static_cast<size_t>(&token - tokens_.data());
    if (index == last_error_token_) return;  // one error per token is enough
    last_error_token_ = index;
    diagnostics_.error("syntax", token.span, std::move(message), std::move(hint));
  }

  bool expect(TokenKind kind, std::string_view context, std::string hint = {}) {
    if (accept(kind)) return true;
    if (hint.empty()) hint = keyword_case_hint(current());
    error(
        current(),
        fmt::format("expected {}{}, found {}", token_kind_name(kind), context, describe(current())),
        hint);
    return false;
  }

  std::string keyword_case_hint(const Token& token) const {
    if (token.kind != TokenKind::Identifier) return {};
    std::string lower = to_lower(token.text);
    if (lower != token.text && is_keyword(lower))
      return fmt::format("EQL keywords are lowercase: `{}`", lower);
    if (token.text == "AND" || token.text == "OR" || token.text == "NOT") return {};
    if (token.text == "nor") return "`nor` can only join whole queries";
    return {};
  }

  // Skips to a token where parsing can resume: a closing bracket, a boolean
  // operator, a comma, a pipe, or the end. Balanced brackets are skipped whole.
  void synchronize() {
    int nesting = 0;
    while (!at(TokenKind::End)) {
      TokenKind kind = current().kind;
      if (nesting == 0) {
        if (kind == TokenKind::RightParen || kind == TokenKind::RightBracket ||
            kind == TokenKind::And || kind == TokenKind::Or || kind == TokenKind::Comma ||
            kind == TokenKind::Pipe || kind == TokenKind::By || kind == TokenKind::Until ||
            kind == TokenKind::With || kind == TokenKind::LeftBracket ||
            kind == TokenKind::MissingOpen || at_word("nor"))
          return;
      }
      if (kind == TokenKind::LeftParen || kind == TokenKind::LeftBracket ||
          kind == TokenKind::MissingOpen)
        ++nesting;
      if ((kind == TokenKind::RightParen || kind == TokenKind::RightBracket) && nesting > 0)
        --nesting;
      advance();
    }
  }

  void skip_to_next_query() {
    while (!at(TokenKind::End) && !at_word("nor") && !starts_query(current(), peek(1))) advance();
  }

  ExprPtr error_node(uint32_t begin) { return make_expr(ExprKind::Error, span_from(begin)); }

  // Guards recursion; past the cap the rest of the query is abandoned.
  struct DepthGuard {
    Parser& parser;
    explicit DepthGuard(Parser& p) : parser(p) { ++parser.depth_; }
    ~DepthGuard() { --parser.depth_; }
  };
  bool too_deep() {
    if (aborted_) return true;
    if (depth_ <= kMaxNestingDepth) return false;
    diagnostics_.error(
        "too-deep", current().span,
        fmt::format("the query is nested too deeply (more than {} levels)", kMaxNestingDepth),
        "flatten the expression");
    aborted_ = true;
    while (!at(TokenKind::End)) advance();
    return true;
  }

  // Tracks the height of built trees so that chains like 1+1+1+... stay bounded.
  ExprPtr finish(ExprPtr node) {
    uint32_t height = 0;
    for (const auto& arg : node->args) height = std::max(height, height_of(*arg));
    node->height = height + 1;
    if (height + 1 > kMaxNestingDepth && !aborted_) {
      depth_ = kMaxNestingDepth + 1;
      too_deep();
      return error_node(node->span.begin);
    }
    return node;
  }
  static uint32_t height_of(const Expr& expr) { return expr.height; }

  // ----- queries -----------------------------------------------------------------
  Query query() {
    Query q;
    uint32_t begin = current().span.begin;
    switch (current().kind) {
      case TokenKind::Sequence: sequence(q); break;
      case TokenKind::Sample: sample(q); break;
      case TokenKind::Join: join(q); break;
      default:
        q.kind = QueryKind::Event;
        q.event = event_filter();
        break;
    }
    while (!aborted_ && at(TokenKind::Pipe)) pipe(q);
    q.span = span_from(begin);
    return q;
  }

  EventFilter event_filter() {
    EventFilter filter;
    uint32_t begin = current().span.begin;
    const Token& token = current();
    if (accept(TokenKind::Any)) {
      filter.any = true;
      filter.category_span = token.span;
    } else if (at(TokenKind::Identifier) || at(TokenKind::String) ||
               at(TokenKind::QuotedIdentifier)) {
      filter.category = token.text;
      filter.quoted_category = token.kind != TokenKind::Identifier;
      filter.category_span = token.span;
      advance();
      if (filter.category.empty()) error(token, "the event category is empty");
    } else if (at(TokenKind::Where)) {
      error(current(), "missing event category before `where`",
            "name a category, e.g. `process where ...`, or use `any where ...`");
    } else {
      error(current(), fmt::format("expected an event category, found {}", describe(current())),
            "an event query reads `<category> where <condition>`, e.g. `process where ...`");
    }
    if (!accept(TokenKind::Where)) {
      std::string hint = "an event query reads `<category> where <condition>`";
      if (at(TokenKind::Dot) || at(TokenKind::Equal) || at(TokenKind::Colon) || at(TokenKind::In) ||
          at(TokenKind::Assign))
        hint = "start the query with `any where` or `<category> where`";
      error(current(), fmt::format("expected 'where', found {}", describe(current())), hint);
      if (at(TokenKind::Dot)) {
        // `process.name == "x"`: parse the rest as a condition anyway.
        synchronize();
      }
    }
    filter.condition = expression();
    filter.span = span_from(begin);
    return filter;
  }

  std::vector<ExprPtr> join_keys() {
    std::vector<ExprPtr> keys;
    advance();  // by
    do {
      keys.push_back(expression());
    } while (!aborted_ && accept(TokenKind::Comma));
    return keys;
  }

  std::optional<Duration> maxspan() {
    const Token& with = advance();  // with
    if (!at(TokenKind::Maxspan)) {
      if (at_word("runs")) {
        error(current(), "`runs` belongs to a sequence step",
              "write `[ ... ] with runs=N` after the step");
      } else {
        error(current(), fmt::format("expected 'maxspan', found {}", describe(current())),
              "a sequence takes `with maxspan=<number><unit>`, e.g. `with maxspan=5m`");
      }
      synchronize();
      return std::nullopt;
    }
    advance();
    if (!accept(TokenKind::Assign)) {
      std::string hint = at(TokenKind::Equal) ? "write `maxspan=5m` with a single =" : "";
      error(current(), fmt::format("expected '=', found {}", describe(current())), hint);
      if (at(TokenKind::Equal) || at(TokenKind::Colon)) advance();
    }
    Duration duration;
    uint32_t begin = current().span.begin;
    const Token* number_token = &current();
    if (at(TokenKind::Integer)) {
      const Token& number = advance();
      errno = 0;
      long long amount = std::strtoll(number.text.c_str(), nullptr, 10);
      if (errno == ERANGE) error(number, "maxspan is out of range");
      duration.amount = amount;
    } else {
      error(current(),
            fmt::format("expected a whole number for maxspan, found {}", describe(current())),
            "e.g. `maxspan=30s`; units: d h m s ms micros nanos");
      if (at(TokenKind::Decimal) || at(TokenKind::Minus)) advance();
      if (at(TokenKind::Integer) || at(TokenKind::Decimal)) advance();
    }
    if (at(TokenKind::Identifier) && current().span.begin == previous_end_) {
      const Token& unit = advance();
      std::optional<TimeUnit> value = time_unit_of(unit.text);
      if (value) duration.unit = *value;
      const bool known = value.has_value();
      if (!known)
        error(unit, fmt::format("unknown time unit '{}'", unit.text),
              "units are d h m s ms micros nanos");
    } else if (at(TokenKind::Identifier)) {
      const Token& unit = advance();
      error(unit, "the time unit must follow the number directly",
            fmt::format("write `maxspan={}{}`", duration.amount, unit.text));
    } else {
      error(*number_token, "maxspan needs a time unit",
            fmt::format("e.g. `maxspan={}s`; units: d h m s ms micros nanos", duration.amount));
    }
    (void)with;
    duration.span = span_from(begin);
    return duration;
  }

  Step step(bool allow_missing, bool allow_runs, std::string_view where) {
    Step s;
    uint32_t begin = current().span.begin;
    if (at(TokenKind::MissingOpen)) {
      if (!allow_missing)
        error(current(), fmt::format("a missing-event step `![ ]` is not allowed {}", where));
      s.missing = true;
      advance();
    } else {
      expect(TokenKind::LeftBracket, " to open a step");
    }
    s.filter = event_filter();
    if (!accept(TokenKind::RightBracket)) {
      error(current(), fmt::format("expected ']' to close the step, found {}", describe(current())),
            current().kind == TokenKind::Identifier ? "join conditions with `and` or `or`" : "");
      synchronize();
      accept(TokenKind::RightBracket);
    }
    if (at(TokenKind::Identifier) && peek(1).kind == TokenKind::Assign) {
      // Python EQL's step options, e.g. `[file where true] fork=true`.
      const Token& option = advance();
      advance();
      if (!at(TokenKind::End)) advance();
      diagnostics_.error(
          "legacy-step-option", {option.span.begin, previous_end_},
          fmt::format("the step option `{}=` is legacy EQL, not supported by Elasticsearch",
                      option.text),
          "Elasticsearch steps take only `by` keys and `with runs=N`");
    }
    if (at(TokenKind::By)) s.by = join_keys();
    if (at(TokenKind::With) && peek(1).kind != TokenKind::Maxspan) {
      advance();
      if (!at_word("runs")) {
        error(current(), fmt::format("expected 'runs', found {}", describe(current())),
              "a step takes `with runs=N`");
        synchronize();
      } else {
        const Token& runs_word = advance();
        if (!allow_runs) error(runs_word, fmt::format("`with runs` is not allowed {}", where));
        expect(TokenKind::Assign, " after runs", "write `with runs=3`");
        if (at(TokenKind::Integer)) {
          const Token& number = advance();
          errno = 0;
          long long runs = std::strtoll(number.text.c_str(), nullptr, 10);
          s.runs = errno == ERANGE ? std::numeric_limits<int64_t>::max() : runs;
        } else {
          error(current(),
                fmt::format("expected a whole number for runs, found {}", describe(current())));
          synchronize();
        }
      }
    } else if (at(TokenKind::With)) {
      error(peek(1), "maxspan belongs to the sequence, not to a step",
            "write `sequence [by ...] with maxspan=...` before the first step");
      advance();
      maxspan();
    }
    s.span = span_from(begin);
    return s;
  }

  void steps(Query& q, bool allow_missing, bool allow_runs, std::string_view where) {
    while (!aborted_ && (at(TokenKind::LeftBracket) || at(TokenKind::MissingOpen))) {
      q.steps.push_back(step(allow_missing, allow_runs, where));
    }
  }

  void sequence(Query& q) {
    q.kind = QueryKind::Sequence;
    q.keyword_span = advance().span;
    if (at(TokenKind::By)) q.by = join_keys();
    if (at(TokenKind::With)) {
      q.maxspan = maxspan();
      if (at(TokenKind::By)) {
        error(current(), "the sequence's `by` must come before `with maxspan`",
              "write `sequence by <keys> with maxspan=<duration>`");
        auto keys = join_keys();
        for (auto& key : keys) q.by.push_back(std::move(key));
      }
    }
    if (!at(TokenKind::LeftBracket) && !at(TokenKind::MissingOpen)) {
      error(current(),
            fmt::format("expected '[' to open the first step, found {}", describe(current())),
            "a sequence lists its steps in brackets: `sequence [process where ...] [network where "
            "...]`");
      synchronize();
    }
    steps(q, true, true, "");
    if (q.is_single_step_sequence()) {
      diagnostics_.warning("one-step-sequence", q.keyword_span,
                           "a sequence needs at least two steps; this one-step sequence is read as "
                           "its event query, and its `by` and `maxspan` have no effect",
                           "write the step's event query on its own");
    }
    if (at(TokenKind::Until)) {
      advance();
      q.until = step(false, false, "in `until`");
    }
  }

  void sample(Query& q) {
    q.kind = QueryKind::Sample;
    q.keyword_span = advance().span;
    if (at(TokenKind::By)) q.by = join_keys();
    if (at(TokenKind::With)) {
      error(current(), "a sample takes no `with` parameters",
            "samples are unordered and have no maxspan");
      synchronize();
    }
    if (!at(TokenKind::LeftBracket) && !at(TokenKind::MissingOpen)) {
      error(current(), fmt::format("expected '[' to open the first sample step, found {}",
                                   describe(current())));
      synchronize();
    }
    steps(q, false, false, "in a sample");
    if (at(TokenKind::Until)) {
      error(current(), "a sample takes no `until` step");
      advance();
      step(false, false, "in a sample");
    }
  }

  void join(Query& q) {
    error(current(), "`join` is legacy EQL and is not supported by Elasticsearch",
          "use `sample by <keys> [...] [...]` for unordered joins, or `sequence by <keys>`");
    q.kind = QueryKind::Sample;
    q.keyword_span = advance().span;
    if (at(TokenKind::By)) q.by = join_keys();
    steps(q, false, false, "in a join");
    if (at(TokenKind::Until)) {
      advance();
      q.until = step(false, false, "in `until`");
    }
  }

  void pipe(Query& q) {
    uint32_t begin = advance().span.begin;  // |
    if (!at(TokenKind::Identifier)) {
      std::string hint = at(TokenKind::Pipe) ? "EQL writes logical or as `or`" : "";
      error(current(), fmt::format("expected a pipe name, found {}", describe(current())), hint);
      synchronize();
      return;
    }
    const Token& name = advance();
    if (name.text == "head" || name.text == "tail") {
      Pipe p;
      p.kind = name.text == "head" ? PipeKind::Head : PipeKind::Tail;
      if (at(TokenKind::Integer)) {
        const Token& number = advance();
        errno = 0;
        long long count = std::strtoll(number.text.c_str(), nullptr, 10);
        p.count = errno == ERANGE ? std::numeric_limits<int64_t>::max() : count;
      } else {
        error(current(),
              fmt::format("`{}` needs a whole number, found {}", name.text, describe(current())),
              fmt::format("e.g. `| {} 10`", name.text));
        synchronize();
      }
      p.span = span_from(begin);
      q.pipes.push_back(p);
      if (!at(TokenKind::Pipe) && !at(TokenKind::End) && !at_word("nor") &&
          !starts_query(current(), peek(1))) {
        error(current(), fmt::format("`{}` takes exactly one number", name.text));
        synchronize();
      }
      return;
    }
    std::string hint = "Elasticsearch EQL supports only the `head` and `tail` pipes";
    bool legacy = false;
    for (const LegacyPipe& legacy_pipe : kLegacyPipes) {
      if (name.text == legacy_pipe.name) {
        legacy = true;
        hint = fmt::format("{}; {}", legacy_pipe.hint, hint);
      }
    }
    diagnostics_.error(
        legacy ? "legacy-pipe" : "unknown-pipe", name.span,
        legacy
            ? fmt::format("the `{}` pipe is legacy EQL, not supported by Elasticsearch", name.text)
            : fmt::format("unknown pipe `{}`", name.text),
        hint);
    // Skip the pipe's arguments (legacy pipes separate them with spaces or commas).
    int nesting = 0;
    while (!at(TokenKind::End) && !(nesting == 0 && (at(TokenKind::Pipe) || at_word("nor")))) {
      if (at(TokenKind::LeftParen) || at(TokenKind::LeftBracket)) ++nesting;
      if ((at(TokenKind::RightParen) || at(TokenKind::RightBracket)) && nesting > 0) --nesting;
      advance();
    }
  }

  // ----- expressions ----------------------------------------------------------------
  ExprPtr expression() {
    DepthGuard guard(*this);
    if (too_deep()) return error_node(current().span.begin);
    return or_expression();
  }

  ExprPtr or_expression() {
    uint32_t begin = current().span.begin;
    ExprPtr left = and_expression();
    if (!at(TokenKind::Or)) return left;
    ExprPtr node = make_expr(ExprKind::Or, {});
    node->args.push_back(std::move(left));
    while (!aborted_ && accept(TokenKind::Or)) node->args.push_back(and_expression());
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr and_expression() {
    uint32_t begin = current().span.begin;
    ExprPtr left = not_expression();
    if (!at(TokenKind::And)) return left;
    ExprPtr node = make_expr(ExprKind::And, {});
    node->args.push_back(std::move(left));
    while (!aborted_ && accept(TokenKind::And)) node->args.push_back(not_expression());
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr not_expression() {
    DepthGuard guard(*this);
    if (too_deep()) return error_node(current().span.begin);
    uint32_t begin = current().span.begin;
    if (accept(TokenKind::Not)) {
      ExprPtr node = make_expr(ExprKind::Not, {});
      node->args.push_back(not_expression());
      node->span = span_from(begin);
      return finish(std::move(node));
    }
    return comparison();
  }

  static std::optional<CompareOp> compare_op(TokenKind kind) {
    switch (kind) {
      case TokenKind::Equal: return CompareOp::Equal;
      case TokenKind::NotEqual: return CompareOp::NotEqual;
      case TokenKind::Less: return CompareOp::Less;
      case TokenKind::LessEqual: return CompareOp::LessEqual;
      case TokenKind::Greater: return CompareOp::Greater;
      case TokenKind::GreaterEqual: return CompareOp::GreaterEqual;
      case TokenKind::Assign: return CompareOp::Equal;
      default: return std::nullopt;
    }
  }

  ExprPtr comparison() {
    uint32_t begin = current().span.begin;
    ExprPtr left = additive();
    auto op = compare_op(current().kind);
    if (!op) return left;
    if (at(TokenKind::Assign)) {
      diagnostics_.error("assignment-operator", current().span, "`=` is not a comparison in EQL",
                         "use == or :");
    }
    advance();
    ExprPtr node = make_expr(ExprKind::Compare, {});
    node->compare = *op;
    node->args.push_back(std::move(left));
    node->args.push_back(additive());
    node->span = span_from(begin);
    if (compare_op(current().kind)) {
      error(current(), "comparisons cannot be chained", "join them with `and`");
    }
    return finish(std::move(node));
  }

  ExprPtr additive() {
    uint32_t begin = current().span.begin;
    ExprPtr left = multiplicative();
    while (!aborted_ && (at(TokenKind::Plus) || at(TokenKind::Minus))) {
      ArithmeticOp op =
          advance().kind == TokenKind::Plus ? ArithmeticOp::Add : ArithmeticOp::Subtract;
      left = binary(op, std::move(left), multiplicative(), begin);
    }
    return left;
  }

  ExprPtr multiplicative() {
    uint32_t begin = current().span.begin;
    ExprPtr left = unary();
    while (!aborted_ && (at(TokenKind::Star) || at(TokenKind::Slash) || at(TokenKind::Percent))) {
      TokenKind kind = advance().kind;
      ArithmeticOp op = kind == TokenKind::Star    ? ArithmeticOp::Multiply
                        : kind == TokenKind::Slash ? ArithmeticOp::Divide
                                                   : ArithmeticOp::Modulo;
      left = binary(op, std::move(left), unary(), begin);
    }
    return left;
  }

  ExprPtr binary(ArithmeticOp op, ExprPtr left, ExprPtr right, uint32_t begin) {
    ExprPtr node = make_expr(ExprKind::Arithmetic, {});
    node->arithmetic = op;
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(right));
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr unary() {
    DepthGuard guard(*this);
    if (too_deep()) return error_node(current().span.begin);
    uint32_t begin = current().span.begin;
    if (accept(TokenKind::Plus)) return unary();
    if (!accept(TokenKind::Minus)) return postfix();
    ExprPtr operand = unary();
    // Fold a negated number into a negative literal.
    if (operand->kind == ExprKind::Literal && operand->literal.type == Value::Type::Integer &&
        operand->literal.integer != std::numeric_limits<int64_t>::min()) {
      operand->literal.integer = -operand->literal.integer;
      operand->span = span_from(begin);
      return operand;
    }
    if (operand->kind == ExprKind::Literal && operand->literal.type == Value::Type::Float) {
      operand->literal.number = -operand->literal.number;
      operand->span = span_from(begin);
      return operand;
    }
    ExprPtr node = make_expr(ExprKind::Negate, {});
    node->args.push_back(std::move(operand));
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr postfix() {
    uint32_t begin = current().span.begin;
    ExprPtr subject = primary();
    if (aborted_) return subject;
    bool negated = false;
    if (at(TokenKind::Not) &&
        (peek(1).kind == TokenKind::In || peek(1).kind == TokenKind::InInsensitive)) {
      negated = true;
      advance();
    } else if (at(TokenKind::Not) &&
               (peek(1).kind == TokenKind::Like || peek(1).kind == TokenKind::LikeInsensitive ||
                peek(1).kind == TokenKind::Regex || peek(1).kind == TokenKind::RegexInsensitive ||
                peek(1).kind == TokenKind::Colon)) {
      error(current(), fmt::format("`not` cannot come before {}", token_kind_name(peek(1).kind)),
            "negate the whole condition: `not field like \"...\"`");
      advance();
    }
    switch (current().kind) {
      case TokenKind::In:
      case TokenKind::InInsensitive: return in_list(std::move(subject), negated, begin);
      case TokenKind::Colon:
      case TokenKind::Like:
      case TokenKind::LikeInsensitive:
      case TokenKind::Regex:
      case TokenKind::RegexInsensitive: return match(std::move(subject), begin);
      default: return subject;
    }
  }

  ExprPtr in_list(ExprPtr subject, bool negated, uint32_t begin) {
    ExprPtr node = make_expr(ExprKind::In, {});
    node->insensitive = advance().kind == TokenKind::InInsensitive;
    node->negated = negated;
    node->args.push_back(std::move(subject));
    if (!accept(TokenKind::LeftParen)) {
      error(current(), fmt::format("expected '(' after `in`, found {}", describe(current())),
            "`in` takes a parenthesised list: field in (\"a\", \"b\")");
      synchronize();
      return error_node(begin);
    }
    if (at(TokenKind::RightParen)) {
      error(current(), "the `in` list is empty", "list at least one value");
    } else {
      do {
        node->args.push_back(expression());
      } while (!aborted_ && accept(TokenKind::Comma));
    }
    if (!accept(TokenKind::RightParen)) {
      error(current(),
            fmt::format("expected ')' to close the `in` list, found {}", describe(current())),
            "separate values with commas");
      synchronize();
      accept(TokenKind::RightParen);
    }
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr match(ExprPtr subject, uint32_t begin) {
    ExprPtr node = make_expr(ExprKind::Match, {});
    const Token& op = advance();
    switch (op.kind) {
      case TokenKind::Colon:
        node->match = MatchOp::Colon;
        node->insensitive = true;
        break;
      case TokenKind::Like: node->match = MatchOp::Like; break;
      case TokenKind::LikeInsensitive:
        node->match = MatchOp::Like;
        node->insensitive = true;
        break;
      case TokenKind::Regex: node->match = MatchOp::Regex; break;
      default:
        node->match = MatchOp::Regex;
        node->insensitive = true;
        break;
    }
    node->args.push_back(std::move(subject));
    if (accept(TokenKind::LeftParen)) {
      node->list = true;
      do {
        node->args.push_back(constant(op));
      } while (!aborted_ && accept(TokenKind::Comma));
      if (!accept(TokenKind::RightParen)) {
        error(current(),
              fmt::format("expected ')' to close the pattern list, found {}", describe(current())),
              "separate patterns with commas");
        synchronize();
        accept(TokenKind::RightParen);
      }
    } else {
      node->args.push_back(constant(op));
    }
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr constant(const Token& op) {
    uint32_t begin = current().span.begin;
    if (at(TokenKind::String) || at(TokenKind::Integer) || at(TokenKind::Decimal) ||
        at(TokenKind::True) || at(TokenKind::False) || at(TokenKind::Null) ||
        (at(TokenKind::Minus) &&
         (peek(1).kind == TokenKind::Integer || peek(1).kind == TokenKind::Decimal))) {
      return unary();
    }
    error(current(),
          fmt::format("{} takes constant patterns, found {}", token_kind_name(op.kind),
                      describe(current())),
          "compare two fields with == or a function such as stringContains()");
    synchronize();
    return error_node(begin);
  }

  ExprPtr literal(Value value, uint32_t begin) {
    ExprPtr node = make_expr(ExprKind::Literal, span_from(begin));
    node->literal = std::move(value);
    return node;
  }

  ExprPtr primary() {
    uint32_t begin = current().span.begin;
    const Token& token = current();
    switch (token.kind) {
      case TokenKind::Integer: {
        advance();
        errno = 0;
        long long value = std::strtoll(token.text.c_str(), nullptr, 10);
        if (errno == ERANGE) {
          diagnostics_.error("number-range", token.span,
                             fmt::format("integer {} is out of range", token.text),
                             "integers are 64-bit signed");
          return error_node(begin);
        }
        return literal(Value::of_integer(value), begin);
      }
      case TokenKind::Decimal: {
        advance();
        double value = std::strtod(token.text.c_str(), nullptr);
        if (!std::isfinite(value)) {
          diagnostics_.error("number-range", token.span,
                             fmt::format("number {} is out of range", token.text));
          return error_node(begin);
        }
        return literal(Value::of_float(value), begin);
      }
      case TokenKind::String: advance(); return literal(Value::of_string(token.text), begin);
      case TokenKind::True: advance(); return literal(Value::of_bool(true), begin);
      case TokenKind::False: advance(); return literal(Value::of_bool(false), begin);
      case TokenKind::Null: advance(); return literal(Value::null(), begin);
      case TokenKind::Question: {
        advance();
        if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier)) {
          error(current(),
                fmt::format("expected a field name after '?', found {}", describe(current())),
                "an optional field reads `?field.name`");
          synchronize();
          return error_node(begin);
        }
        ExprPtr field = field_name(begin);
        field->optional = true;
        return field;
      }
      case TokenKind::TildeIdentifier: return call(begin);
      case TokenKind::Identifier:
        if (peek(1).kind == TokenKind::LeftParen) return call(begin);
        if (peek(1).kind == TokenKind::Of &&
            (token.text == "descendant" || token.text == "child" || token.text == "event"))
          return lineage(begin);
        return field_name(begin);
      case TokenKind::QuotedIdentifier: return field_name(begin);
      case TokenKind::LeftParen: {
        advance();
        ExprPtr inner = expression();
        if (at(TokenKind::Comma)) {
          error(current(), "a parenthesised list is only valid after `in`, `:`, `like` or `regex`",
                "to test several values write `field in (\"a\", \"b\")`");
          synchronize();
          while (accept(TokenKind::Comma)) {
            expression();
          }
        }
        if (!accept(TokenKind::RightParen)) {
          error(current(), fmt::format("expected ')', found {}", describe(current())),
                keyword_case_hint(current()));
          synchronize();
          accept(TokenKind::RightParen);
        }
        return inner;
      }
      default: break;
    }
    std::string hint = keyword_case_hint(token);
    if (token.kind == TokenKind::End) hint = "the condition is incomplete";
    if (token.kind == TokenKind::Where)
      hint = "`where` follows an event category: `process where ...`";
    error(token, fmt::format("expected an expression, found {}", describe(token)), hint);
    if (!at(TokenKind::End) && !at(TokenKind::RightParen) && !at(TokenKind::RightBracket) &&
        !at(TokenKind::Pipe))
      advance();
    synchronize();
    return error_node(begin);
  }

  ExprPtr field_name(uint32_t begin) {
    std::string name = advance().text;
    while (true) {
      if (at(TokenKind::LeftBracket) && peek(1).kind == TokenKind::Integer &&
          peek(2).kind == TokenKind::RightBracket) {
        const Token& open = advance();
        advance();
        advance();
        diagnostics_.error("array-index", {open.span.begin, previous_end_},
                           "EQL does not support array indexes",
                           "a predicate on an array field holds when any element matches");
        continue;
      }
      if (!at(TokenKind::Dot)) break;
      advance();
      const Token& part = current();
      // After a dot, keywords are ordinary names: `event.sequence`.
      bool word = part.kind == TokenKind::Identifier || part.kind == TokenKind::QuotedIdentifier ||
                  (!part.text.empty() && is_keyword(part.text) && part.span.begin == previous_end_);
      if (!word) {
        error(part, fmt::format("expected a field name after '.', found {}", describe(part)));
        break;
      }
      advance();
      name += '.';
      name += part.text;
    }
    ExprPtr node = make_expr(ExprKind::Field, span_from(begin));
    node->name = std::move(name);
    return node;
  }

  ExprPtr call(uint32_t begin) {
    const Token& name = advance();
    ExprPtr node = make_expr(ExprKind::Call, {});
    node->name = name.text;
    node->insensitive = name.kind == TokenKind::TildeIdentifier;
    if (!expect(TokenKind::LeftParen, " after the function name")) {
      synchronize();
      return error_node(begin);
    }
    if (!at(TokenKind::RightParen)) {
      do {
        node->args.push_back(expression());
      } while (!aborted_ && accept(TokenKind::Comma));
    }
    if (!accept(TokenKind::RightParen)) {
      error(current(),
            fmt::format("expected ')' to close the call to {}, found {}", name.text,
                        describe(current())),
            "separate arguments with commas");
      synchronize();
      accept(TokenKind::RightParen);
    }
    node->span = span_from(begin);
    return finish(std::move(node));
  }

  ExprPtr lineage(uint32_t begin) {
    const Token& word = advance();
    advance();  // of
    diagnostics_.error(
        "legacy-lineage", {word.span.begin, previous_end_},
        fmt::format("`{} of` is legacy EQL, not supported by Elasticsearch", word.text),
        "match the parent through process.parent.* fields, or use a sequence by "
        "process.entity_id");
    if (at(TokenKind::LeftBracket)) {
      advance();
      event_filter();
      expect(TokenKind::RightBracket, " to close the lineage query");
    }
    return error_node(begin);
  }

  std::vector<Token> tokens_;
  Diagnostics& diagnostics_;
  size_t pos_ = 0;
  uint32_t previous_end_ = 0;
  size_t last_error_token_ = static_cast<size_t>(-1);
  int depth_ = 0;
  bool aborted_ = false;
};

}  // namespace

QuerySet parse_query_set(const SourceFile& source, uint32_t begin, uint32_t end,
                         Diagnostics& diagnostics) {
  Parser parser(tokenize(source, begin, end, diagnostics), diagnostics);
  return parser.query_set();
}

QuerySet parse_query_set(const SourceFile& source, Diagnostics& diagnostics) {
  return parse_query_set(source, 0, static_cast<uint32_t>(source.text().size()), diagnostics);
}

ExprPtr parse_expression(const SourceFile& source, Diagnostics& diagnostics) {
  Parser parser(tokenize(source, diagnostics), diagnostics);
  return parser.standalone_expression();
}

}  // namespace pickaxe::eql
