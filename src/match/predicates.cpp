#include "match/predicates.h"

#include <algorithm>
#include <optional>

#include "event/patterns.h"

namespace pickaxe {

namespace {

using eql::ExprKind;

// A leaf the program can decide: some string value of one field equals one
// of `exact` or matches one of `wildcards` (both folded when insensitive).
struct LeafShape {
  uint32_t slot = 0;
  bool insensitive = false;
  bool inverted = false;  // the leaf is true when the predicate does not fire (!=, not in)
  std::vector<std::string> exact, wildcards;
};

bool is_string_literal(const Node& node) {
  return node.kind == ExprKind::Literal && node.literal.type == Scalar::Type::String;
}

std::optional<LeafShape> shape_of(const Node& node) {
  LeafShape shape;
  shape.insensitive = node.insensitive;
  switch (node.kind) {
    case ExprKind::Compare: {
      if (node.compare != eql::CompareOp::Equal && node.compare != eql::CompareOp::NotEqual)
        return std::nullopt;
      if (node.compare_mode != CompareMode::Generic) return std::nullopt;
      const Node& left = *node.children[0];
      const Node& right = *node.children[1];
      const Node* field = left.kind == ExprKind::Field ? &left : &right;
      const Node* literal = field == &left ? &right : &left;
      if (field->kind != ExprKind::Field || !is_string_literal(*literal)) return std::nullopt;
      shape.slot = field->slot;
      shape.exact.push_back(node.insensitive ? fold_case(literal->literal.string)
                                             : literal->literal.string);
      shape.inverted = node.compare == eql::CompareOp::NotEqual;
      return shape;
    }
    case ExprKind::In: {
      if (node.children[0]->kind != ExprKind::Field || !node.constant_items ||
          !node.other_items.empty() || node.string_set.empty())
        return std::nullopt;
      shape.slot = node.children[0]->slot;
      shape.exact.assign(node.string_set.begin(), node.string_set.end());
      shape.inverted = node.negated;
      return shape;
    }
    case ExprKind::Match: {
      if (node.match == eql::MatchOp::Regex || node.children[0]->kind != ExprKind::Field ||
          !node.regexes.empty() || !node.cidrs.empty() || node.wildcards.empty() || node.negated)
        return std::nullopt;
      for (size_t i = 1; i < node.children.size(); ++i)
        if (!is_string_literal(*node.children[i])) return std::nullopt;
      shape.slot = node.children[0]->slot;
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
  for (const std::string& item : shape.exact) key += "\x1f=" + item;
  for (const std::string& item : shape.wildcards) key += "\x1f*" + item;
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

thread_local PredicatePass* installed = nullptr;

}  // namespace

PredicateProgram::PredicateProgram() = default;
PredicateProgram::~PredicateProgram() = default;

PredicateProgram::Group& PredicateProgram::group_for(uint32_t slot) {
  auto [it, added] = group_by_slot_.try_emplace(slot, static_cast<uint32_t>(groups_.size()));
  if (added) groups_.emplace_back().slot = slot;
  return groups_[it->second];
}

uint32_t PredicateProgram::predicate_for(Node& leaf) {
  std::optional<LeafShape> shape = shape_of(leaf);
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
  }
  leaf.predicate = static_cast<int32_t>(id);
  leaf.predicate_slot = shape->slot;
  leaf.predicate_inverted = shape->inverted;
  return id;
}

void PredicateProgram::add(CompiledFilter& filter, const FieldIndex& fields) {
  if (!filter.condition) return;
  std::vector<Node*> stack{filter.condition.get()};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (shape_of(*node)) {
      predicate_for(*node);
      continue;
    }
    for (NodePtr& child : node->children) stack.push_back(child.get());
  }
  // The anchor: a required conjunct whose predicates must fire for the
  // filter to hold (a leaf, or an `or` of leaves), the most telling one.
  std::vector<const Node*> conjuncts;
  if (filter.condition->kind == ExprKind::And) {
    for (const NodePtr& child : filter.condition->children) conjuncts.push_back(child.get());
  } else {
    conjuncts.push_back(filter.condition.get());
  }
  int best_score = -1;
  for (const Node* conjunct : conjuncts) {
    std::vector<const Node*> leaves;
    if (conjunct->kind == ExprKind::Or) {
      for (const NodePtr& child : conjunct->children) leaves.push_back(child.get());
    } else {
      leaves.push_back(conjunct);
    }
    bool usable = true;
    int score = 2;
    std::vector<uint32_t> anchor;
    for (const Node* leaf : leaves) {
      if (leaf->predicate < 0 || leaf->predicate_inverted) {
        usable = false;
        break;
      }
      anchor.push_back(static_cast<uint32_t>(leaf->predicate));
      if (ubiquitous(fields.path(leaf->predicate_slot))) score = 0;
      if (score > 0 &&
          !groups_[predicates_[static_cast<uint32_t>(leaf->predicate)]].patterns.empty())
        score = std::min(score, 1);
    }
    if (usable && score > best_score) {
      best_score = score;
      filter.anchor = std::move(anchor);
    }
  }
  if (!filter.anchor.empty()) ++anchored_;
}

void PredicateProgram::build() {
  for (Group& group : groups_) {
    if (!group.patterns.empty())
      group.wildcards = std::make_unique<FactoredWildcards>(group.patterns, group.caseless);
  }
}

PredicatePass::PredicatePass(const PredicateProgram& program)
    : program_(program),
      decided_(program.groups_.size(), 0),
      fired_(program.predicates_.size(), 0) {}

void PredicatePass::begin(const Event& event) {
  event_ = &event;
  if (++epoch_ == 0) {  // wrapped: forget every mark
    std::fill(decided_.begin(), decided_.end(), 0);
    std::fill(fired_.begin(), fired_.end(), 0);
    epoch_ = 1;
  }
}

bool PredicatePass::fired(uint32_t predicate) {
  uint32_t group = program_.predicates_[predicate];
  if (decided_[group] != epoch_) decide(group);
  return fired_[predicate] == epoch_;
}

void PredicatePass::decide(uint32_t index) {
  decided_[index] = epoch_;
  const PredicateProgram::Group& group = program_.groups_[index];
  auto fire = [&](const std::vector<uint32_t>& predicates) {
    for (uint32_t predicate : predicates) fired_[predicate] = epoch_;
  };
  for (const Scalar& value : event_->fields[group.slot]) {
    if (value.type != Scalar::Type::String) continue;
    if (!group.exact.empty()) {
      auto it = group.exact.find(value.string);
      if (it != group.exact.end()) fire(it->second);
    }
    if (!group.folded.empty()) {
      folded_.assign(value.string);
      for (char& c : folded_) c = fold(c);
      auto it = group.folded.find(folded_);
      if (it != group.folded.end()) fire(it->second);
    }
    if (group.wildcards) {
      matches_.clear();
      group.wildcards->match_all(value.string, matches_);
      for (uint32_t id : matches_) fire(group.wildcard_predicates[id]);
    }
  }
}

ScopedPredicates::ScopedPredicates(PredicatePass& pass, const Event& event) : previous_(installed) {
  pass.begin(event);
  installed = &pass;
}

ScopedPredicates::~ScopedPredicates() {
  installed = previous_;
}

PredicatePass* predicates_for(const Event& event) {
  return installed && installed->event() == &event ? installed : nullptr;
}

}  // namespace pickaxe
