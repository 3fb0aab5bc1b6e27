#include "event/event.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>

namespace pickaxe {

namespace {

bool shorter_or_less(const std::pair<std::string, uint32_t>& child, std::string_view key) {
  if (child.first.size() != key.size()) return child.first.size() < key.size();
  return std::memcmp(child.first.data(), key.data(), key.size()) < 0;
}

}  // namespace

uint64_t FieldIndex::next_version() {
  static std::atomic<uint64_t> counter{1};
  return counter++;
}

uint32_t FieldIndex::add(const std::string& path) {
  if (auto existing = slot(path)) return *existing;
  version_ = next_version();
  uint32_t slot = static_cast<uint32_t>(paths_.size());
  paths_.push_back(path);
  slots_[path] = slot;
  // The tree: one node per dotted part.
  uint32_t node = 0;
  std::string_view rest = path;
  while (true) {
    size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    auto& children = trie_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), part, shorter_or_less);
    if (it == children.end() || it->first != part) {
      uint32_t created = static_cast<uint32_t>(trie_.size());
      children.insert(it, {std::string(part), created});
      trie_.emplace_back();
      add_edge(node, part, created);
      node = created;
    } else {
      node = it->second;
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  trie_[node].slot = slot;
  return slot;
}

uint64_t FieldIndex::edge_hash(uint32_t node, std::string_view part) {
  uint64_t hash = 0xcbf29ce484222325ULL ^ (uint64_t{node} * 0x9e3779b97f4a7c15ULL);
  for (char c : part) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash ^ (hash >> 29);
}

void FieldIndex::add_edge(uint32_t node, std::string_view part, uint32_t child) {
  if ((edge_count_ + 1) * 2 > edges_.size()) {  // keep the table at most half full
    std::vector<Edge> old = std::move(edges_);
    edges_.assign(old.size() * 2, Edge{});
    edge_count_ = 0;
    for (Edge& edge : old)
      if (edge.used) add_edge(edge.node, edge.part, edge.child);
  }
  const uint64_t hash = edge_hash(node, part);
  const size_t mask = edges_.size() - 1;
  size_t at = hash & mask;
  while (edges_[at].used) at = (at + 1) & mask;
  edges_[at] = Edge{hash, node, child, std::string(part), true};
  ++edge_count_;
}

std::optional<uint32_t> FieldIndex::child(uint32_t node, std::string_view key) const {
  const size_t mask = edges_.size() - 1;
  while (true) {
    size_t dot = key.find('.');
    std::string_view part = key.substr(0, dot);
    const uint64_t hash = edge_hash(node, part);
    size_t at = hash & mask;
    while (true) {
      const Edge& edge = edges_[at];
      if (!edge.used) return std::nullopt;
      if (edge.hash == hash && edge.node == node && edge.part == part) break;
      at = (at + 1) & mask;
    }
    node = edges_[at].child;
    if (dot == std::string_view::npos) return node;
    key.remove_prefix(dot + 1);
  }
}

std::optional<uint32_t> FieldIndex::slot(std::string_view path) const {
  auto it = slots_.find(path);
  if (it == slots_.end()) return std::nullopt;
  return it->second;
}

std::vector<SlotSchema> describe_slots(const FieldIndex& index, const Schema& schema) {
  std::vector<SlotSchema> slots(index.size());
  for (uint32_t slot = 0; slot < index.size(); ++slot) {
    slots[slot].type = schema.type(index.path(slot));
    slots[slot].null_value = schema.null_value(index.path(slot));
    if (slots[slot].type == FieldType::Date)
      slots[slot].date_format = &schema.date_format(index.path(slot));
  }
  return slots;
}

namespace {

// Converts the value where Elasticsearch would for the field's type: a
// number in a keyword field becomes a string, a numeric string in a numeric
// field a number. Anything else is left as it is, untouched.
void coerce(Scalar& value, FieldType type) {
  if ((type == FieldType::Keyword || type == FieldType::Text) && value.is_number()) {
    value = Scalar::of_string(value.to_string());
    return;
  }
  if ((type != FieldType::Long && type != FieldType::Double) || value.type != Scalar::Type::String)
    return;
  const std::string& text = value.string;
  int64_t integer = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (error == std::errc() && end == text.data() + text.size()) {
    value = Scalar::of_long(integer);
    return;
  }
  double number = 0;
  auto [end2, error2] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error2 == std::errc() && end2 == text.data() + text.size()) value = Scalar::of_double(number);
}

class Extractor {
 public:
  Extractor(const FieldIndex& index, const std::vector<SlotSchema>& slots, Event& event)
      : index_(index), slots_(slots), event_(event) {
    event_.fields.reset(index.size());
    // Where each slot's entry is, for this event: marks numbered per event.
    if (marks_.size() < index.size()) marks_.resize(index.size(), {0, 0});
    if (++epoch_ == 0) {
      std::fill(marks_.begin(), marks_.end(), std::pair<uint32_t, uint32_t>{0, 0});
      epoch_ = 1;
    }
    if (known_version_ != index.version()) {
      known_.clear();
      known_version_ = index.version();
    }
    known_.resize(index.node_count());
    // The thread's tables, reached once per event rather than once per key.
    marks_here_ = marks_.data();
    epoch_here_ = epoch_;
    known_here_ = known_.data();
  }
  ~Extractor() { event_.fields.sort(); }
  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // Walks `element` at `node` of the field tree: only into keys that lead to
  // fields the queries read.
  void visit(simdjson::dom::element element, uint32_t node) {
    using simdjson::dom::element_type;
    switch (element.type()) {
      case element_type::OBJECT: {
        simdjson::dom::object object = element.get_object().value_unsafe();
        // A key given twice in one object: the last value counts, as most
        // JSON readers take it (the values are not merged).
        std::array<uint32_t, 16> seen;
        size_t count = 0, position = 0;
        for (auto [key, value] : object) {
          auto next = child_at(node, position++, key);
          if (!next) continue;
          if (std::find(seen.begin(), seen.begin() + count, *next) != seen.begin() + count) {
            int64_t slot = index_.node_slot(*next);
            if (slot >= 0) values_of(static_cast<uint32_t>(slot)).clear();
          } else if (count < seen.size()) {
            seen[count++] = *next;
          }
          visit(value, *next);
        }
        return;
      }
      case element_type::ARRAY: {
        simdjson::dom::array array = element.get_array().value_unsafe();
        for (simdjson::dom::element item : array) visit(item, node);
        return;
      }
      default: break;
    }
    int64_t slot = index_.node_slot(node);
    if (slot < 0) return;
    const SlotSchema& schema = slots_[slot];
    if (element.type() == element_type::NULL_VALUE) {
      if (schema.null_value) values_of(static_cast<uint32_t>(slot)).push_back(*schema.null_value);
      return;
    }
    // Built in place: a value is written once, not moved through temporaries.
    auto add = [&](Scalar::Type type) -> Scalar& {
      Scalar& value = values_of(static_cast<uint32_t>(slot)).emplace_back();
      value.type = type;
      return value;
    };
    Scalar* value = nullptr;
    switch (element.type()) {
      case element_type::STRING:
        value = &add(Scalar::Type::String);
        value->string.assign(element.get_string().value_unsafe());
        break;
      case element_type::INT64:
        value = &add(Scalar::Type::Long);
        value->integer = element.get_int64().value_unsafe();
        break;
      case element_type::UINT64:
        value = &add(Scalar::Type::Double);
        value->number = static_cast<double>(element.get_uint64().value_unsafe());
        break;
      case element_type::DOUBLE:
        value = &add(Scalar::Type::Double);
        value->number = element.get_double().value_unsafe();
        break;
      case element_type::BOOL:
        value = &add(Scalar::Type::Bool);
        value->boolean = element.get_bool().value_unsafe();
        break;
      default: return;
    }
    if (schema.type) coerce(*value, *schema.type);
  }

  void visit_document(simdjson::dom::element document) { visit(document, 0); }

 private:
  // The index's child for the key at `position` of an object at `node`:
  // documents of one producer repeat their keys in the same order, so the
  // key last seen there is compared first, which is cheaper than a lookup.
  std::optional<uint32_t> child_at(uint32_t node, size_t position, std::string_view key) {
    std::vector<KnownKey>& known = known_here_[node];
    if (position < known.size() && known[position].key == key) {
      int64_t child = known[position].child;
      if (child < 0) return std::nullopt;
      return static_cast<uint32_t>(child);
    }
    std::optional<uint32_t> child = index_.child(node, key);
    if (position < kKnownPositions && key.size() <= kKnownKeyBytes) {
      if (known.size() <= position) known.resize(position + 1);
      known[position].key.assign(key);
      known[position].child = child ? int64_t{*child} : -1;
    }
    return child;
  }
  struct KnownKey {
    std::string key;
    int64_t child = -1;  // -1: the key leads to no field
  };
  static constexpr size_t kKnownPositions = 64;
  static constexpr size_t kKnownKeyBytes = 64;
  // Per node of the index, per position in an object: the last key seen there.
  static thread_local std::vector<std::vector<KnownKey>> known_;
  static thread_local uint64_t known_version_;
  Values& values_of(uint32_t slot) {
    auto& [epoch, position] = marks_here_[slot];
    if (epoch != epoch_here_) {
      epoch = epoch_here_;
      position = static_cast<uint32_t>(event_.fields.append(slot));
    }
    return event_.fields.values_at(position);
  }
  // Per slot: the event (epoch) it was last filled for, and its entry.
  static thread_local std::vector<std::pair<uint32_t, uint32_t>> marks_;
  std::pair<uint32_t, uint32_t>* marks_here_;
  uint32_t epoch_here_;
  std::vector<KnownKey>* known_here_;
  static thread_local uint32_t epoch_;
  const FieldIndex& index_;
  const std::vector<SlotSchema>& slots_;
  Event& event_;
};

thread_local std::vector<std::pair<uint32_t, uint32_t>> Extractor::marks_;
thread_local uint32_t Extractor::epoch_ = 0;
thread_local std::vector<std::vector<Extractor::KnownKey>> Extractor::known_;
thread_local uint64_t Extractor::known_version_ = 0;

}  // namespace

void extract_fields(simdjson::dom::element document, const FieldIndex& index, const Schema& schema,
                    Event& event) {
  extract_fields(document, index, describe_slots(index, schema), event);
}

void extract_fields(simdjson::dom::element document, const FieldIndex& index,
                    const std::vector<SlotSchema>& slots, Event& event) {
  Extractor extractor(index, slots, event);
  extractor.visit_document(document);
}

}  // namespace pickaxe
