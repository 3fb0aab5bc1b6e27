#include "fleet/partitioning.h"

#include <charconv>

#include <fmt/format.h>

namespace pickaxe::fleet {

std::vector<std::string> default_partition_key() {
  return {"host.id", "host.name", "cloud.account.id", "container.id"};
}

std::string Layout::encode() const {
  std::string text = fmt::format("{} ", partitions);
  for (size_t i = 0; i < key.size(); ++i) text += (i ? "," : "") + key[i];
  return text;
}

std::optional<Layout> Layout::decode(std::string_view text) {
  Layout layout;
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + space, layout.partitions);
  if (error != std::errc() || end != text.data() + space || layout.partitions == 0)
    return std::nullopt;
  layout.key.clear();
  std::string_view fields = text.substr(space + 1);
  while (!fields.empty()) {
    const size_t comma = fields.find(',');
    layout.key.emplace_back(fields.substr(0, comma));
    if (layout.key.back().empty()) return std::nullopt;
    fields = comma == std::string_view::npos ? std::string_view() : fields.substr(comma + 1);
  }
  if (layout.key.empty()) return std::nullopt;
  return layout;
}

namespace {

// The value at a dotted path: each prefix may be an object key of its own
// ("host": {"name": ...}) or part of a dotted key ("host.name": ...).
std::optional<simdjson::dom::element> find(simdjson::dom::element at, std::string_view path) {
  simdjson::dom::object object;
  if (at.get_object().get(object)) return std::nullopt;
  for (auto field : object) {
    std::string_view name = field.key;
    if (name == path) return field.value;
    if (path.size() > name.size() && path.starts_with(name) && path[name.size()] == '.') {
      if (auto found = find(field.value, path.substr(name.size() + 1))) return found;
    }
  }
  return std::nullopt;
}

std::optional<std::string> scalar_text(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::STRING: return std::string(value.get_string().value());
    case simdjson::dom::element_type::INT64: return std::to_string(value.get_int64().value());
    case simdjson::dom::element_type::UINT64: return std::to_string(value.get_uint64().value());
    case simdjson::dom::element_type::ARRAY: {
      // A keyword field written as a one-value array reads as that value.
      simdjson::dom::array array = value.get_array().value();
      if (array.size() == 1) return scalar_text(array.at(0).value());
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<KeyValue> partition_key_of(simdjson::dom::element document,
                                         const std::vector<std::string>& key) {
  for (const std::string& field : key) {
    if (auto value = find(document, field)) {
      if (auto text = scalar_text(*value); text && !text->empty()) return KeyValue{field, *text};
    }
  }
  return std::nullopt;
}

uint32_t partition_of(std::string_view value, uint32_t partitions) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : value) hash = (hash ^ c) * 0x100000001b3ULL;
  return static_cast<uint32_t>(hash % partitions);
}

namespace {

bool is_field(const eql::ExprPtr& key, const std::string& field) {
  return key && key->kind == eql::ExprKind::Field && !key->optional && key->name == field;
}

// A join is exact when one key position holds the partition key's first
// field in every step: events joined share its value, so its partition (an
// event without it has a null key and joins nothing). Later fields of the
// key do not do: an event holding the first field is placed by it.
bool joins_on(const eql::Query& query, const std::string& field) {
  for (size_t i = 0; i < query.by.size(); ++i)
    if (is_field(query.by[i], field)) return true;
  std::vector<const eql::Step*> steps;
  for (const eql::Step& step : query.steps) steps.push_back(&step);
  if (query.until) steps.push_back(&*query.until);
  if (steps.empty()) return false;
  for (size_t i = 0; i < steps.front()->by.size(); ++i) {
    bool everywhere = true;
    for (const eql::Step* step : steps)
      everywhere = everywhere && i < step->by.size() && is_field(step->by[i], field);
    if (everywhere) return true;
  }
  return false;
}

}  // namespace

Exactness partition_exactness(const Rule& rule, const std::vector<std::string>& key,
                              const std::vector<std::string>& suppress_by) {
  const std::string& first = key.front();
  if (!suppress_by.empty() &&
      std::find(suppress_by.begin(), suppress_by.end(), first) == suppress_by.end())
    return {false, fmt::format("--suppress-by does not include {}", first)};
  if (rule.correlation) {
    for (const RuleCorrelation::Input& input : rule.correlation->inputs) {
      if (std::find(input.group_fields.begin(), input.group_fields.end(), first) ==
          input.group_fields.end())
        return {false, fmt::format("a correlation not grouped by {}", first)};
    }
    return {};
  }
  for (const eql::Query& query : rule.query.alternatives) {
    if (!query.pipes.empty()) return {false, "a head or tail pipe counts over the whole input"};
    if (query.kind == eql::QueryKind::Event || query.is_single_step_sequence()) continue;
    if (!joins_on(query, first))
      return {false,
              fmt::format("a {} not joined by {}",
                          query.kind == eql::QueryKind::Sample ? "sample" : "sequence", first)};
  }
  return {};
}

}  // namespace pickaxe::fleet
