#include "correlate/correlation.h"

#include <unordered_map>

#include <fmt/format.h>

#include "event/packed_event.h"
#include "util/binary_io.h"

#include <algorithm>
#include <limits>
#include <set>

namespace pickaxe {

CorrelationEngine::CorrelationEngine(const RuleCorrelation& spec, std::vector<Input> inputs,
                                     Sink sink)
    : spec_(spec), inputs_(std::move(inputs)), sink_(std::move(sink)) {
  for (const auto& [op, value] : spec_.condition)
    if (op != "gt" && op != "gte") sliding_ = false;
  if (spec_.type == RuleCorrelation::Type::TemporalOrdered) sliding_ = true;
  std::set<std::string> rules;
  for (const auto& input : spec_.inputs) rules.insert(input.rule_id);
  distinct_rules_ = rules.size();
}

bool CorrelationEngine::holds(uint64_t count) const {
  const double n = static_cast<double>(count);
  if (spec_.condition.empty()) return count >= distinct_rules_;  // temporal: every rule
  for (const auto& [op, value] : spec_.condition) {
    bool ok = op == "gt"    ? n > value
              : op == "gte" ? n >= value
              : op == "lt"  ? n < value
              : op == "lte" ? n <= value
              : op == "eq"  ? n == value
                            : n != value;
    if (!ok) return false;
  }
  return true;
}

uint64_t CorrelationEngine::count(const Window& window) const {
  switch (spec_.type) {
    case RuleCorrelation::Type::EventCount: return window.entries.size();
    case RuleCorrelation::Type::ValueCount: {
      std::set<std::string_view> values;
      for (const Entry& entry : window.entries) values.insert(entry.value);
      return values.size();
    }
    default: {
      // Distinct rules: an input names a rule (two inputs may name one rule).
      std::set<std::string_view> rules;
      for (const Entry& entry : window.entries) rules.insert(spec_.inputs[entry.input].rule_id);
      return rules.size();
    }
  }
}

void CorrelationEngine::fire(const Group& group, std::vector<Entry> entries, uint64_t count) {
  CorrelationResult result;
  result.group = group;
  result.count = count;
  if (spec_.type == RuleCorrelation::Type::Temporal) {
    // The latest hit of each rule makes the result.
    std::vector<Entry> latest;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      const std::string& rule = spec_.inputs[it->input].rule_id;
      bool seen = std::any_of(latest.begin(), latest.end(), [&](const Entry& e) {
        return spec_.inputs[e.input].rule_id == rule;
      });
      if (!seen) latest.push_back(std::move(*it));
    }
    std::reverse(latest.begin(), latest.end());
    entries = std::move(latest);
  }
  if (entries.empty()) return;
  result.from = entries.front().time;
  result.to = entries.back().time;
  for (Entry& entry : entries)
    for (EventPtr& event : entry.events) result.events.push_back(std::move(event));
  sink_(std::move(result));
}

void CorrelationEngine::close_before(int64_t time, bool all) {
  // Windows in the order they opened: the first still open ends last.
  while (!starts_.empty() && (all || time - starts_.begin()->first > spec_.timespan)) {
    Group group = std::move(starts_.begin()->second);
    starts_.erase(starts_.begin());
    auto it = windows_.find(group);
    if (it == windows_.end()) continue;
    uint64_t n = count(it->second);
    std::vector<Entry> entries = std::move(it->second.entries);
    windows_.erase(it);
    if (holds(n)) fire(group, std::move(entries), n);
  }
}

void CorrelationEngine::push_ordered(const Group& group, Window& window, Entry entry) {
  const size_t stages = spec_.inputs.size();
  if (window.stages.size() != stages) window.stages.resize(stages);
  // Later stages first, so that one hit never fills two stages of one sequence.
  for (size_t s = stages; s-- > 0;) {
    if (spec_.inputs[s].rule_id != spec_.inputs[entry.input].rule_id) continue;
    if (s == 0) {
      if (stages == 1) {
        fire(group, {entry}, 1);
        continue;
      }
      window.stages[0] = std::vector<Entry>{entry};  // a newer start replaces an older one
      continue;
    }
    auto& previous = window.stages[s - 1];
    if (!previous) continue;
    if (entry.time - previous->front().time > spec_.timespan) {
      previous.reset();  // expired
      continue;
    }
    std::vector<Entry> advanced = std::move(*previous);
    previous.reset();
    advanced.push_back(entry);
    if (s + 1 == stages)
      fire(group, std::move(advanced), stages);
    else
      window.stages[s] = std::move(advanced);
  }
}

void CorrelationEngine::sweep(int64_t time) {
  since_sweep_ = 0;
  for (auto it = windows_.begin(); it != windows_.end();) {
    Window& window = it->second;
    bool live = !window.entries.empty() && time - window.entries.back().time <= spec_.timespan;
    for (auto& stage : window.stages)
      live = live || (stage && time - stage->front().time <= spec_.timespan);
    it = live ? std::next(it) : windows_.erase(it);
  }
}

void CorrelationEngine::push(size_t input, const CorrelationHit& hit) {
  if (!sliding_)
    close_before(hit.time);
  else if (++since_sweep_ >= 4096)
    sweep(hit.time);
  const Input& reads = inputs_[input];
  Group group;
  for (uint32_t slot : reads.group_slots) {
    std::string value;
    for (const EventPtr& event : hit.events) {
      if (!event || event->fields[slot].empty()) continue;
      for (const Scalar& scalar : event->fields[slot]) {
        if (!value.empty()) value += ',';
        value += scalar.to_string();
      }
      break;
    }
    if (value.empty()) {  // no value to group by: as a terms aggregation, left out
      ++ungrouped_;
      return;
    }
    group.push_back(std::move(value));
  }
  Entry entry{hit.time, input, {}, hit.events};
  if (spec_.type == RuleCorrelation::Type::ValueCount) {
    if (!reads.value_slot) return;
    for (const EventPtr& event : hit.events) {
      if (!event || event->fields[*reads.value_slot].empty()) continue;
      for (const Scalar& scalar : event->fields[*reads.value_slot])
        entry.value.append(entry.value.empty() ? "" : ",").append(scalar.to_string());
      break;
    }
    if (entry.value.empty()) return;  // nothing to count
  }
  Window& window = windows_[group];
  if (spec_.type == RuleCorrelation::Type::TemporalOrdered) {
    push_ordered(group, window, std::move(entry));
    return;
  }
  if (sliding_) {
    // Only hits within the timespan of this one stay.
    auto& entries = window.entries;
    auto stale = std::find_if(entries.begin(), entries.end(),
                              [&](const Entry& e) { return hit.time - e.time <= spec_.timespan; });
    entries.erase(entries.begin(), stale);
    entries.push_back(std::move(entry));
    uint64_t n = count(window);
    if (holds(n)) {
      std::vector<Entry> taken = std::move(entries);
      windows_.erase(group);
      fire(group, std::move(taken), n);
    }
    return;
  }
  if (window.entries.empty()) {
    window.start = hit.time;
    starts_.emplace(hit.time, group);
  }
  window.entries.push_back(std::move(entry));
}

void CorrelationEngine::finish() {
  if (!sliding_) close_before(0, true);
  windows_.clear();
}

namespace {

constexpr StateHeader kCorrelationHeader{"PXCS", 1, "correlation state"};

}  // namespace

void CorrelationEngine::save(std::string& out) const {
  // The events the windows hold, once each, then the windows referring to them.
  std::unordered_map<const Event*, uint32_t> ids;
  std::vector<const Event*> table;
  std::string body;
  auto put_entries = [&](const std::vector<Entry>& entries) {
    put(body, static_cast<uint64_t>(entries.size()));
    for (const Entry& entry : entries) {
      put(body, entry.time);
      put(body, static_cast<uint64_t>(entry.input));
      put_bytes(body, entry.value);
      put(body, static_cast<uint64_t>(entry.events.size()));
      for (const EventPtr& event : entry.events) {
        uint32_t id = UINT32_MAX;
        if (event) {
          auto [it, added] = ids.try_emplace(event.get(), static_cast<uint32_t>(table.size()));
          if (added) table.push_back(event.get());
          id = it->second;
        }
        put(body, id);
      }
    }
  };
  put(body, static_cast<uint64_t>(windows_.size()));
  for (const auto& [group, window] : windows_) {
    put(body, static_cast<uint64_t>(group.size()));
    for (const std::string& part : group) put_bytes(body, part);
    put(body, window.start);
    put_entries(window.entries);
    put(body, static_cast<uint64_t>(window.stages.size()));
    for (const auto& stage : window.stages) {
      put(body, static_cast<uint8_t>(stage.has_value()));
      if (stage) put_entries(*stage);
    }
  }
  put(body, static_cast<uint64_t>(starts_.size()));
  for (const auto& [time, group] : starts_) {
    put(body, time);
    put(body, static_cast<uint64_t>(group.size()));
    for (const std::string& part : group) put_bytes(body, part);
  }
  put(body, ungrouped_);
  put(body, since_sweep_);
  kCorrelationHeader.put(out);
  put(out, static_cast<uint64_t>(table.size()));
  for (const Event* event : table) write_event(out, *event);
  out.append(body);
}

bool CorrelationEngine::load(std::string_view in, std::string* error) {
  auto failed = [&](const std::string& why) {
    if (error) *error = "correlation state: " + why;
    return false;
  };
  if (!kCorrelationHeader.get(in, error)) return false;
  BinaryReader reader(in);
  uint64_t count = 0;
  if (!reader.count(count, 1)) return failed("truncated");
  std::vector<EventPtr> table;
  for (uint64_t i = 0; i < count; ++i) {
    auto event = std::make_shared<Event>();
    std::string_view rest = reader.rest();
    const size_t before = rest.size();
    if (!read_event(rest, *event)) return failed(fmt::format("event {} is damaged", i));
    reader.skip(before - rest.size());
    table.push_back(std::move(event));
  }
  auto get_group = [&](Group& group) {
    uint64_t parts = 0;
    if (!reader.count(parts, 8)) return false;
    group.resize(parts);
    for (std::string& part : group)
      if (!reader.bytes(part)) return false;
    return true;
  };
  auto get_entries = [&](std::vector<Entry>& entries) {
    uint64_t size = 0;
    if (!reader.count(size, 32)) return false;
    for (uint64_t i = 0; i < size; ++i) {
      Entry entry;
      uint64_t input = 0, events = 0;
      if (!reader.get(entry.time) || !reader.get(input) || input >= inputs_.size() ||
          !reader.bytes(entry.value) || !reader.count(events, sizeof(uint32_t)))
        return reader.fail();
      entry.input = input;
      for (uint64_t j = 0; j < events; ++j) {
        uint32_t id = 0;
        if (!reader.get(id) || (id != UINT32_MAX && id >= table.size())) return reader.fail();
        entry.events.push_back(id == UINT32_MAX ? nullptr : table[id]);
      }
      entries.push_back(std::move(entry));
    }
    return true;
  };
  std::map<Group, Window> windows;
  bool ok = reader.count(count, 8);
  for (uint64_t i = 0; ok && i < count; ++i) {
    Group group;
    Window window;
    uint64_t stages = 0;
    ok = get_group(group) && reader.get(window.start) && get_entries(window.entries) &&
         reader.count(stages, 1);
    for (uint64_t j = 0; ok && j < stages; ++j) {
      uint8_t present = 0;
      ok = reader.get(present);
      window.stages.emplace_back();
      if (ok && present) {
        window.stages.back().emplace();
        ok = get_entries(*window.stages.back());
      }
    }
    if (ok) windows[std::move(group)] = std::move(window);
  }
  std::multimap<int64_t, Group> starts;
  ok = ok && reader.count(count, 16);
  for (uint64_t i = 0; ok && i < count; ++i) {
    int64_t time = 0;
    Group group;
    ok = reader.get(time) && get_group(group);
    if (ok) starts.emplace(time, std::move(group));
  }
  uint64_t ungrouped = 0, since_sweep = 0;
  ok = ok && reader.get(ungrouped) && reader.get(since_sweep);
  if (!ok || !reader.at_end())
    return failed(fmt::format("damaged at byte {}", reader.failed_at() + StateHeader::kSize));
  windows_ = std::move(windows);
  starts_ = std::move(starts);
  ungrouped_ = ungrouped;
  since_sweep_ = since_sweep;
  return true;
}

}  // namespace pickaxe
