#include "event/event.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>

#include "util/bytes.h"

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
  return hash_bytes(part, node);
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
      : index_(index), slots_(slots), fields_(event.fields) {
    fields_.begin_fill(index.size());
    if (known_version_ != index.version()) {
      known_.clear();
      known_version_ = index.version();
    }
    known_.resize(index.node_count());
    known_here_ = known_.data();  // the thread's table, reached once per event
  }
  ~Extractor() { fields_.end_fill(); }
  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // Walks `element` at `node` of the field tree (whose slot is `slot`, -1 for
  // none): only into keys that lead to fields the queries read.
  void visit(simdjson::dom::element element, uint32_t node, int32_t slot) {
    using simdjson::dom::element_type;
    const element_type type = element.type();
    switch (type) {
      case element_type::OBJECT: {
        simdjson::dom::object object = element.get_object().value_unsafe();
        // A key given twice in one object: the last value counts, as most
        // JSON readers take it (the values are not merged). The list of
        // children seen is searched only when a bit of `maybe_seen` says
        // the child may be in it.
        std::array<uint32_t, 16> seen;
        size_t count = 0, position = 0;
        uint64_t maybe_seen = 0;
        for (auto [key, value] : object) {
          const KnownKey& known = child_at(node, position++, key);
          if (known.child < 0) continue;
          const uint32_t child = static_cast<uint32_t>(known.child);
          const int32_t child_slot = known.slot;
          const uint64_t bit = uint64_t{1} << (child & 63);
          if ((maybe_seen & bit) &&
              std::find(seen.begin(), seen.begin() + count, child) != seen.begin() + count) {
            if (child_slot >= 0) fields_.clear_slot(static_cast<uint32_t>(child_slot));
          } else if (count < seen.size()) {
            seen[count++] = child;
            maybe_seen |= bit;
          }
          visit(value, child, child_slot);
        }
        return;
      }
      case element_type::ARRAY: {
        simdjson::dom::array array = element.get_array().value_unsafe();
        for (simdjson::dom::element item : array) visit(item, node, slot);
        return;
      }
      case element_type::NULL_VALUE: {
        if (slot >= 0 && slots_[slot].null_value)
          fields_.fill(static_cast<uint32_t>(slot)) = *slots_[slot].null_value;
        return;
      }
      default: break;
    }
    if (slot < 0 || !(type == element_type::STRING || type == element_type::INT64 ||
                      type == element_type::UINT64 || type == element_type::DOUBLE ||
                      type == element_type::BOOL))
      return;
    // Written over a spare value in place: a string keeps its storage.
    Scalar& value = fields_.fill(static_cast<uint32_t>(slot));
    value.boolean = false;
    value.integer = 0;
    value.number = 0;
    if (type != element_type::STRING) value.string.clear();
    switch (type) {
      case element_type::STRING:
        value.type = Scalar::Type::String;
        value.string.assign(element.get_string().value_unsafe());
        break;
      case element_type::INT64:
        value.type = Scalar::Type::Long;
        value.integer = element.get_int64().value_unsafe();
        break;
      case element_type::UINT64:
        value.type = Scalar::Type::Double;
        value.number = static_cast<double>(element.get_uint64().value_unsafe());
        break;
      case element_type::DOUBLE:
        value.type = Scalar::Type::Double;
        value.number = element.get_double().value_unsafe();
        break;
      case element_type::BOOL:
        value.type = Scalar::Type::Bool;
        value.boolean = element.get_bool().value_unsafe();
        break;
      default: break;  // none: checked above
    }
    if (const std::optional<FieldType>& field_type = slots_[slot].type) coerce(value, *field_type);
  }

  void visit_document(simdjson::dom::element document) {
    visit(document, 0, static_cast<int32_t>(index_.node_slot(0)));
  }

 private:
  static constexpr size_t kKnownPositions = 64;
  static constexpr size_t kKnownKeyBytes = 52;
  // A key, the node it leads to and that node's slot, in one cache line.
  struct alignas(64) KnownKey {
    std::array<char, kKnownKeyBytes> bytes{};
    uint32_t size = UINT32_MAX;  // none yet
    int32_t child = -1;          // -1: the key leads to no field
    int32_t slot = -1;           // the child's slot, -1 for none
  };
  // The index's child for the key at `position` of an object at `node`:
  // documents of one producer repeat their keys in the same order, so the
  // key last seen there is compared first, which is cheaper than a lookup.
  const KnownKey& child_at(uint32_t node, size_t position, std::string_view key) {
    std::vector<KnownKey>& known = known_here_[node];
    if (position < known.size()) {
      const KnownKey& last = known[position];
      if (last.size == key.size() && same_bytes(last.bytes.data(), key.data(), key.size()))
        return last;
    }
    std::optional<uint32_t> child = index_.child(node, key);
    KnownKey* entry = &looked_up_;
    if (position < kKnownPositions && key.size() <= kKnownKeyBytes) {
      if (known.size() <= position) known.resize(position + 1);
      entry = &known[position];
      entry->size = static_cast<uint32_t>(key.size());
      std::memcpy(entry->bytes.data(), key.data(), key.size());
    }
    entry->child = child ? static_cast<int32_t>(*child) : -1;
    entry->slot = child ? static_cast<int32_t>(index_.node_slot(*child)) : -1;
    return *entry;
  }
  KnownKey looked_up_;  // a key not remembered (too long, or too far in its object)
  // Per node of the index, per position in an object: the last key seen there.
  static thread_local std::vector<std::vector<KnownKey>> known_;
  static thread_local uint64_t known_version_;
  std::vector<KnownKey>* known_here_;
  const FieldIndex& index_;
  const std::vector<SlotSchema>& slots_;
  FieldValues& fields_;
};

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
