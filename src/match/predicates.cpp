#include "match/predicates.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <re2/re2.h>

#include "event/patterns.h"
#include "util/bytes.h"

namespace pickaxe {

namespace {

using eql::ExprKind;

// A leaf the program can decide: some string value of one field equals one
// of `exact` or matches one of `wildcards` (both folded when insensitive),
// or some number equals one of `numbers`; or, on an IP field, some address
// equals `ip_equal` or lies in `cidrs`.
struct LeafShape {
  uint32_t slot = 0;
  bool insensitive = false;
  bool inverted = false;  // the leaf is true when the predicate does not fire (!=, not in)
  std::vector<std::string> exact, wildcards;
  std::vector<Scalar> numbers;
  std::optional<std::string> ip_equal;  // its text, which parses as an address
  std::vector<std::string> cidrs;       // their texts, which parse as CIDRs
  std::vector<const RE2*> regexes;      // the leaf's own, compiled
  bool strings() const { return !exact.empty() || !wildcards.empty(); }
};

bool is_string_literal(const Node& node) {
  return node.kind == ExprKind::Literal && node.literal.type == Scalar::Type::String;
}

bool is_number_literal(const Node& node) {
  return node.kind == ExprKind::Literal && node.literal.is_number();
}

bool is_ip_field(const Node& node) {
  return node.kind == ExprKind::Field && node.field_type == FieldType::Ip;
}

// == as compare_scalars decides it for two numbers.
bool same_number(const Scalar& a, const Scalar& b) {
  if (a.type == Scalar::Type::Long && b.type == Scalar::Type::Long) return a.integer == b.integer;
  return a.as_double() == b.as_double();  // false for NaN
}

std::optional<LeafShape> shape_of(const Node& node) {
  LeafShape shape;
  shape.insensitive = node.insensitive;
  switch (node.kind) {
    case ExprKind::Compare: {
      if (node.compare != eql::CompareOp::Equal && node.compare != eql::CompareOp::NotEqual)
        return std::nullopt;
      const Node& left = *node.children[0];
      const Node& right = *node.children[1];
      const Node* field = left.kind == ExprKind::Field ? &left : &right;
      const Node* literal = field == &left ? &right : &left;
      if (field->kind != ExprKind::Field) return std::nullopt;
      shape.slot = field->slot;
      shape.inverted = node.compare == eql::CompareOp::NotEqual;
      if (node.compare_mode == CompareMode::Ip && is_string_literal(*literal) &&
          parse_ip(literal->literal.string)) {
        shape.ip_equal = literal->literal.string;
        return shape;
      }
      if (node.compare_mode != CompareMode::Generic) return std::nullopt;
      if (is_number_literal(*literal)) {
        shape.insensitive = false;  // numbers have no case
        shape.numbers.push_back(literal->literal);
        return shape;
      }
      if (!is_string_literal(*literal)) return std::nullopt;
      shape.exact.push_back(node.insensitive ? fold_case(literal->literal.string)
                                             : literal->literal.string);
      return shape;
    }
    case ExprKind::In: {
      if (node.children[0]->kind != ExprKind::Field || !node.constant_items) return std::nullopt;
      for (const Scalar& item : node.other_items)
        if (!item.is_number()) return std::nullopt;
      if (node.string_set.empty() && node.other_items.empty()) return std::nullopt;
      shape.slot = node.children[0]->slot;
      shape.exact.assign(node.string_set.begin(), node.string_set.end());
      shape.numbers = node.other_items;
      if (shape.exact.empty()) shape.insensitive = false;  // numbers have no case
      shape.inverted = node.negated;
      return shape;
    }
    case ExprKind::Call: {
      // cidrMatch(ip_field, "cidr", ...): every value of an IP field is an
      // address (events with another value are skipped before filters run).
      if (!is_cidr_match(node) || node.children.size() < 2 || !is_ip_field(*node.children[0]) ||
          node.cidrs.empty())
        return std::nullopt;
      for (size_t i = 1; i < node.children.size(); ++i) {
        const Node& item = *node.children[i];
        if (!is_string_literal(item) || !parse_cidr(item.literal.string)) return std::nullopt;
        shape.cidrs.push_back(item.literal.string);
      }
      shape.slot = node.children[0]->slot;
      shape.insensitive = false;
      return shape;
    }
    case ExprKind::Match: {
      if (node.children[0]->kind != ExprKind::Field || node.negated) return std::nullopt;
      for (size_t i = 1; i < node.children.size(); ++i)
        if (!is_string_literal(*node.children[i])) return std::nullopt;
      shape.slot = node.children[0]->slot;
      if (node.match == eql::MatchOp::Regex) {
        // Every pattern compiled (a rule with one that did not is refused).
        if (node.regexes.empty() || node.regexes.size() + 1 != node.children.size())
          return std::nullopt;
        for (const auto& regex : node.regexes) shape.regexes.push_back(regex.get());
        return shape;
      }
      if (!node.regexes.empty()) return std::nullopt;
      if (!node.cidrs.empty()) {
        // `:` with CIDRs on an IP field: only CIDRs, each as written.
        if (!node.wildcards.empty() || !is_ip_field(*node.children[0])) return std::nullopt;
        for (size_t i = 1; i < node.children.size(); ++i) {
          if (!parse_cidr(node.children[i]->literal.string)) return std::nullopt;
          shape.cidrs.push_back(node.children[i]->literal.string);
        }
        shape.insensitive = false;
        return shape;
      }
      if (node.wildcards.empty()) return std::nullopt;
      for (const std::string& pattern : node.wildcards) {
        bool wild = pattern.find_first_of("*?") != std::string::npos;
        (wild ? shape.wildcards : shape.exact).push_back(pattern);
      }
      return shape;
    }
    default: return std::nullopt;
  }
}

std::string key_of(LeafShape shape) {
  std::sort(shape.exact.begin(), shape.exact.end());
  std::sort(shape.wildcards.begin(), shape.wildcards.end());
  std::string key = std::to_string(shape.slot) + (shape.insensitive ? "|i" : "|s");
  std::sort(shape.cidrs.begin(), shape.cidrs.end());
  for (const std::string& item : shape.exact) key += "\x1f=" + item;
  for (const std::string& item : shape.wildcards) key += "\x1f*" + item;
  for (const Scalar& number : shape.numbers)
    key += (number.type == Scalar::Type::Long ? "\x1f#L" : "\x1f#D") + number.to_string();
  if (shape.ip_equal) key += "\x1fip=" + *shape.ip_equal;
  for (const std::string& item : shape.cidrs) key += "\x1f/" + item;
  std::sort(shape.regexes.begin(), shape.regexes.end(),
            [](const RE2* a, const RE2* b) { return a->pattern() < b->pattern(); });
  for (const RE2* regex : shape.regexes)
    key += (regex->options().case_sensitive() ? "\x1f~s" : "\x1f~i") + regex->pattern();
  return key;
}

// Fields nearly every event of a kind holds the same few values of: a poor
// anchor, since the filter would be evaluated for most events anyway.
bool ubiquitous(const std::string& path) {
  static const std::vector<std::string> kCommon = {
      "event.category",        "event.type",          "event.action",
      "event.outcome",         "event.kind",          "event.dataset",
      "event.module",          "host.os.type",        "host.os.name",
      "host.os.family",        "data_stream.dataset", "data_stream.type",
      "data_stream.namespace", "agent.type",          "event.provider"};
  return std::find(kCommon.begin(), kCommon.end(), path) != kCommon.end();
}

}  // namespace

// How telling a leaf is, by the shortest text its values must hold: a short
// or common value fires for many events, a long one for few.
int PredicateProgram::leaf_score(const Node& leaf, const FieldIndex& fields) const {
  if (ubiquitous(fields.path(leaf.predicate_slot))) return 0;
  std::optional<LeafShape> shape = shape_of(leaf);
  if (!shape->strings()) return 1;  // numbers and addresses: many events have them
  size_t shortest = 12;
  for (const std::string& item : shape->exact) shortest = std::min(shortest, item.size());
  for (const std::string& pattern : shape->wildcards) {
    size_t longest_piece = 0, piece = 0;
    for (char c : pattern) {
      piece = c == '*' || c == '?' ? 0 : piece + 1;
      longest_piece = std::max(longest_piece, piece);
    }
    shortest = std::min(shortest, longest_piece);
  }
  return shortest < 3 ? static_cast<int>(shortest) : 10 + static_cast<int>(shortest);
}

// A leaf's predicate; the best anchor of an `and`'s terms; every branch's
// anchor for an `or`. Inverted leaves (!=, not in) and other nodes have none.
std::optional<PredicateProgram::Anchor> PredicateProgram::anchor_of(
    const Node& node, const FieldIndex& fields) const {
  if (node.predicate >= 0) {
    if (node.predicate_inverted) return std::nullopt;
    return Anchor{{static_cast<uint32_t>(node.predicate)}, leaf_score(node, fields)};
  }
  switch (node.kind) {
    case ExprKind::And: {
      std::optional<Anchor> best;
      for (const NodePtr& child : node.children) {
        std::optional<Anchor> anchor = anchor_of(*child, fields);
        if (anchor &&
            (!best || anchor->score > best->score ||
             (anchor->score == best->score && anchor->predicates.size() < best->predicates.size())))
          best = std::move(anchor);
      }
      return best;
    }
    case ExprKind::Or: {
      Anchor all{{}, INT32_MAX};
      for (const NodePtr& child : node.children) {
        std::optional<Anchor> anchor = anchor_of(*child, fields);
        if (!anchor) return std::nullopt;
        all.predicates.insert(all.predicates.end(), anchor->predicates.begin(),
                              anchor->predicates.end());
        all.score = std::min(all.score, anchor->score);
      }
      std::sort(all.predicates.begin(), all.predicates.end());
      all.predicates.erase(std::unique(all.predicates.begin(), all.predicates.end()),
                           all.predicates.end());
      if (all.predicates.empty()) return std::nullopt;
      return all;
    }
    default: return std::nullopt;
  }
}

PredicateProgram::PredicateProgram() = default;
PredicateProgram::~PredicateProgram() = default;

PredicateProgram::Group& PredicateProgram::group_for(uint32_t slot) {
  auto [it, added] = group_by_slot_.try_emplace(slot, static_cast<uint32_t>(groups_.size()));
  if (added) groups_.emplace_back().slot = slot;
  return groups_[it->second];
}

std::optional<uint32_t> PredicateProgram::predicate_for(Node& leaf) {
  std::optional<LeafShape> shape = shape_of(leaf);
  if (!shape) return std::nullopt;  // not a leaf the program decides
  std::string key = key_of(*shape);
  auto [it, added] = by_key_.try_emplace(key, static_cast<uint32_t>(predicates_.size()));
  uint32_t id = it->second;
  if (added) {
    Group& group = group_for(shape->slot);
    predicates_.push_back(group_by_slot_[shape->slot]);
    for (const std::string& item : shape->exact)
      (shape->insensitive ? group.folded : group.exact)[item].push_back(id);
    for (const std::string& pattern : shape->wildcards) {
      size_t at = 0;
      while (at < group.patterns.size() &&
             !(group.patterns[at] == pattern && group.caseless[at] == shape->insensitive))
        ++at;
      if (at == group.patterns.size()) {
        group.patterns.push_back(pattern);
        group.caseless.push_back(shape->insensitive);
        group.wildcard_predicates.emplace_back();
      }
      group.wildcard_predicates[at].push_back(id);
    }
    for (const Scalar& number : shape->numbers) group.numbers.emplace_back(number, id);
    if (shape->ip_equal || !shape->cidrs.empty()) {
      PredicateProgram::IpTest test;
      test.predicate = id;
      if (shape->ip_equal) {
        test.equal = parse_ip(*shape->ip_equal);
        test.text = *shape->ip_equal;
        test.insensitive = leaf.insensitive;
      }
      for (const std::string& text : shape->cidrs) test.cidrs.add(*parse_cidr(text));
      group.ip_tests.push_back(std::move(test));
    }
    if (!shape->regexes.empty()) {
      PredicateProgram::RegexTest test;
      test.predicate = id;
      for (const RE2* regex : shape->regexes)
        test.regexes.push_back(std::make_unique<RE2>(regex->pattern(), regex->options()));
      group.regex_tests.push_back(std::move(test));
    }
  }
  leaf.predicate = static_cast<int32_t>(id);
  leaf.predicate_slot = shape->slot;
  leaf.predicate_inverted = shape->inverted;
  return id;
}

namespace {

// Appends the program asking `node` for True (`want_true`) or for False:
// holds() or refutes() of it.
void lower(const Node& node, bool want_true, const std::vector<uint32_t>& group_of,
           FilterCode& code) {
  using Answer = PredicatePass::Answer;
  if (node.predicate >= 0) {
    // The leaf is true when the predicate fires, or (inverted) when it does
    // not; null without a value, which is neither wanted answer.
    const bool fired_gives_true = !node.predicate_inverted;
    const Answer wanted = want_true == fired_gives_true ? Answer::Fired : Answer::NotFired;
    const auto predicate = static_cast<uint32_t>(node.predicate);
    code.steps.push_back({FilterCode::Op::Predicate, static_cast<uint8_t>(wanted), 0, predicate,
                          group_of[predicate]});
    return;
  }
  switch (node.kind) {
    case ExprKind::Not: return lower(*node.children[0], !want_true, group_of, code);
    case ExprKind::And:
    case ExprKind::Or: {
      if (node.children.size() <= UINT16_MAX) {
        // `and` holds when all hold, and is refuted when any is; `or` the reverse.
        const bool all = (node.kind == ExprKind::And) == want_true;
        const size_t at = code.steps.size();
        code.steps.push_back({all ? FilterCode::Op::All : FilterCode::Op::Any, 0,
                              static_cast<uint16_t>(node.children.size()), 0});
        for (const NodePtr& child : node.children) lower(*child, want_true, group_of, code);
        code.steps[at].arg = static_cast<uint32_t>(code.steps.size());
        return;
      }
      break;  // too many to count in a step: tested as a whole
    }
    default: break;
  }
  code.steps.push_back({FilterCode::Op::Test,
                        static_cast<uint8_t>(want_true ? Tri::True : Tri::False), 0,
                        static_cast<uint32_t>(code.tests.size())});
  code.tests.push_back(&node);
}

}  // namespace

void PredicateProgram::add(CompiledFilter& filter, const FieldIndex& fields) {
  filter.code = FilterCode{};
  if (!filter.condition) return;
  std::vector<Node*> stack{filter.condition.get()};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (predicate_for(*node)) continue;
    for (NodePtr& child : node->children) stack.push_back(child.get());
  }
  // The anchor: predicates one of which must fire for the filter to hold,
  // the most telling such set.
  if (std::optional<Anchor> anchor = anchor_of(*filter.condition, fields))
    filter.anchor = std::move(anchor->predicates);
  if (!filter.anchor.empty()) ++anchored_;
  lower(*filter.condition, true, predicates_, filter.code);
}

void PredicateProgram::build() {
  by_compile_cost_.clear();
  for (size_t i = 0; i < groups_.size(); ++i) {
    Group& group = groups_[i];
    if (group.patterns.empty()) continue;
    group.wildcards = std::make_unique<FactoredWildcards>(group.patterns, group.caseless);
    by_compile_cost_.push_back(static_cast<uint32_t>(i));
  }
  // The longest compiles first, so that threads sharing them out finish
  // together: a large rule set has a few databases that take most of the time.
  std::stable_sort(by_compile_cost_.begin(), by_compile_cost_.end(), [&](uint32_t a, uint32_t b) {
    return groups_[a].wildcards->literal_count() > groups_[b].wildcards->literal_count();
  });
}

void PredicateProgram::prepare(std::atomic<size_t>& next) const {
  for (size_t at = next++; at < by_compile_cost_.size(); at = next++)
    groups_[by_compile_cost_[at]].wildcards->prepare();
}

PredicatePass::PredicatePass(const PredicateProgram& program, size_t memory_budget)
    : program_(program),
      groups_(program.groups_.size()),
      fired_(program.predicates_.size(), 0),
      group_fired_(program.groups_.size()),
      seen_budget_(memory_budget) {}

void PredicatePass::begin(const Event& event) {
  event_ = &event;
  event_fired_.clear();
  if (++epoch_ == 0) {  // wrapped: forget every mark
    std::fill(groups_.begin(), groups_.end(), GroupMarks{});
    std::fill(fired_.begin(), fired_.end(), 0);
    epoch_ = 1;
  }
}

bool PredicatePass::fired(uint32_t predicate) {
  uint32_t group = program_.predicates_[predicate];
  if (groups_[group].decided != epoch_) decide(group);
  return fired_[predicate] == epoch_;
}

std::span<const uint32_t> PredicatePass::fired_in(uint32_t group) {
  if (groups_[group].decided != epoch_) decide(group);
  auto [begin, end] = group_fired_[group];
  return std::span<const uint32_t>(event_fired_.data() + begin, end - begin);
}

void PredicatePass::compute(const PredicateProgram::Group& group, const std::string& value) {
  auto add = [&](const std::vector<uint32_t>& predicates) {
    pool_.insert(pool_.end(), predicates.begin(), predicates.end());
  };
  if (!group.exact.empty()) {
    auto it = group.exact.find(value);
    if (it != group.exact.end()) add(it->second);
  }
  if (!group.folded.empty()) {
    folded_.assign(value);
    for (char& c : folded_) c = fold(c);
    auto it = group.folded.find(folded_);
    if (it != group.folded.end()) add(it->second);
  }
  if (group.wildcards) {
    matches_.clear();
    group.wildcards->match_all(value, matches_);
    for (uint32_t id : matches_) add(group.wildcard_predicates[id]);
  }
  if (!group.ip_tests.empty()) {
    // As compare_scalars in IP mode: addresses by their bytes; a value that
    // is no address, by its text.
    const std::optional<IpAddress> address = parse_ip(value);
    for (const PredicateProgram::IpTest& test : group.ip_tests) {
      bool fires = false;
      if (test.equal)
        fires = address ? std::memcmp(address->bytes.data(), test.equal->bytes.data(), 16) == 0
                        : (test.insensitive ? fold_case(value) == fold_case(test.text)
                                            : value == test.text);
      else
        fires = address && test.cidrs.contains(*address);
      if (fires) pool_.push_back(test.predicate);
    }
  }
  for (const PredicateProgram::RegexTest& test : group.regex_tests) {
    for (const auto& regex : test.regexes) {
      if (!RE2::FullMatch(value, *regex)) continue;
      pool_.push_back(test.predicate);
      break;
    }
  }
}

void PredicatePass::forget_values() {
  seen_.assign(kFirstSeenSize, Remembered{});
  seen_count_ = 0;
  seen_values_.clear();
  pool_.clear();
}

uint64_t PredicatePass::hash_of(uint32_t group, std::string_view value) {
  uint64_t hash = hash_bytes(value, group);
  return hash == 0 ? 1 : hash;
}

size_t PredicatePass::find_seen(uint64_t hash, uint32_t group, std::string_view value) const {
  const size_t mask = seen_.size() - 1;
  for (size_t at = hash & mask;; at = (at + 1) & mask) {
    const Remembered& entry = seen_[at];
    if (entry.hash == 0) return at;
    if (entry.hash == hash && entry.group == group && entry.value_size == value.size() &&
        same_bytes(seen_values_.data() + entry.value_begin, value.data(), value.size()))
      return at;
  }
}

void PredicatePass::remember(uint64_t hash, uint32_t group, std::string_view value, uint32_t begin,
                             uint32_t end) {
  const size_t bytes = seen_values_.size() + value.size() + seen_.size() * sizeof(Remembered) +
                       pool_.size() * sizeof(uint32_t);
  if (bytes > seen_budget_) {  // a bound whatever the input: forget all, start again
    std::vector<uint32_t> fired(pool_.begin() + begin, pool_.begin() + end);
    forget_values();
    pool_ = std::move(fired);
    begin = 0;
    end = static_cast<uint32_t>(pool_.size());
  }
  if ((seen_count_ + 1) * 2 > seen_.size()) {  // at most half full
    std::vector<Remembered> old = std::move(seen_);
    seen_.assign(old.size() * 2, Remembered{});
    for (const Remembered& entry : old) {
      if (entry.hash == 0) continue;
      size_t at = entry.hash & (seen_.size() - 1);
      while (seen_[at].hash != 0) at = (at + 1) & (seen_.size() - 1);
      seen_[at] = entry;
    }
  }
  Remembered& entry = seen_[find_seen(hash, group, value)];
  entry = Remembered{
      hash,  group, static_cast<uint32_t>(seen_values_.size()), static_cast<uint32_t>(value.size()),
      begin, end};
  seen_values_.append(value);
  ++seen_count_;
}

void PredicatePass::decide(uint32_t index) {
  groups_[index].decided = epoch_;
  const PredicateProgram::Group& group = program_.groups_[index];
  const uint32_t first_fired = static_cast<uint32_t>(event_fired_.size());
  for (const Scalar& value : event_->fields[group.slot]) {
    if (!value.is_null()) groups_[index].present = epoch_;
    if (value.is_number()) {
      for (const auto& [number, predicate] : group.numbers)
        if (same_number(value, number)) mark_fired(predicate);
    }
    if (value.type != Scalar::Type::String) continue;
    const bool rememberable = value.string.size() <= kLongestSeen && seen_budget_ > 0;
    const uint64_t hash = rememberable ? hash_of(index, value.string) : 0;
    const Remembered* known = nullptr;
    if (rememberable) {
      const Remembered& entry = seen_[find_seen(hash, index, value.string)];
      if (entry.hash != 0) known = &entry;
    }
    uint32_t begin, end;
    if (known) {
      begin = known->begin;
      end = known->end;
    } else {
      begin = static_cast<uint32_t>(pool_.size());
      compute(group, value.string);
      end = static_cast<uint32_t>(pool_.size());
    }
    for (uint32_t at = begin; at < end; ++at) mark_fired(pool_[at]);
    if (known) continue;
    if (rememberable)
      remember(hash, index, value.string, begin, end);
    else
      pool_.resize(begin);
  }
  group_fired_[index] = {first_fired, static_cast<uint32_t>(event_fired_.size())};
}

constinit thread_local PredicatePass* installed_predicates = nullptr;

ScopedPredicates::ScopedPredicates(PredicatePass& pass, const Event& event)
    : previous_(installed_predicates) {
  pass.begin(event);
  installed_predicates = &pass;
}

ScopedPredicates::~ScopedPredicates() {
  installed_predicates = previous_;
}

}  // namespace pickaxe
