#include "hunt/exceptions.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "eql/ast.h"
#include "util/strings.h"

namespace pickaxe {

namespace {

Span span_of(const std::shared_ptr<SourceFile>& source, const YAML::Node& node) {
  YAML::Mark mark = node.Mark();
  if (mark.pos < 0) return {0, 0};
  uint32_t offset =
      static_cast<uint32_t>(std::min<size_t>(static_cast<size_t>(mark.pos), source->text().size()));
  return {offset, offset + 1};
}

std::vector<std::string> read_value_list(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read the value list file " + path;
    return {};
  }
  std::vector<std::string> values;
  for (std::string line; std::getline(in, line);) {
    std::string_view value = trim(line);
    if (value.empty() || value.front() == '#') continue;
    values.emplace_back(value);
  }
  return values;
}

}  // namespace

ExceptionSet load_exceptions(const std::string& path, Diagnostics& diagnostics) {
  ExceptionSet set;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto source = std::make_shared<SourceFile>(path, text);
  diagnostics = Diagnostics(source);
  if (!in) {
    diagnostics.error("unreadable", {0, 0},
                      fmt::format("{}: cannot read the exceptions file", path));
    return set;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    uint32_t offset = e.mark.pos >= 0 ? static_cast<uint32_t>(e.mark.pos) : 0;
    diagnostics.error("exceptions-syntax", {offset, offset + 1},
                      fmt::format("invalid YAML or JSON: {}", e.msg));
    return set;
  }
  auto error = [&](const YAML::Node& node, std::string message, std::string hint = {}) {
    diagnostics.error("exceptions", span_of(source, node), std::move(message), std::move(hint));
  };
  if (!root.IsMap()) {
    error(root,
          "the exceptions file must be a mapping with `exceptions` and optionally `value_lists`");
    return set;
  }
  std::filesystem::path base = std::filesystem::path(path).parent_path();
  if (YAML::Node lists = root["value_lists"]) {
    if (!lists.IsMap()) {
      error(lists, "`value_lists` maps names to files of values");
    } else {
      for (const auto& entry : lists) {
        std::string name = entry.first.as<std::string>();
        std::filesystem::path file = entry.second.as<std::string>();
        if (file.is_relative()) file = base / file;
        std::string problem;
        set.value_lists[name] = read_value_list(file.string(), &problem);
        if (!problem.empty()) error(entry.second, problem);
      }
    }
  }
  YAML::Node items = root["exceptions"];
  if (!items || !items.IsSequence()) {
    error(items ? items : root, "expected `exceptions:` with a list of items");
    return set;
  }
  static const std::vector<std::string> kTypes = {"match",  "match_any", "wildcard",
                                                  "exists", "cidr",      "list"};
  for (const YAML::Node& node : items) {
    ExceptionItem item;
    bool ok = node.IsMap();
    if (!ok) {
      error(node, "an exception item is a mapping with `entries`");
      continue;
    }
    item.name = node["name"] ? node["name"].as<std::string>()
                             : fmt::format("item at line {}", node.Mark().line + 1);
    if (node["enabled"]) item.enabled = node["enabled"].as<bool>();
    if (YAML::Node ids = node["rule_ids"]) {
      for (const auto& id : ids) item.rule_ids.push_back(id.as<std::string>());
    }
    YAML::Node entries = node["entries"];
    if (!entries || !entries.IsSequence() || entries.size() == 0) {
      error(node, fmt::format("exception `{}` has no entries", item.name),
            "every item needs at least one entry");
      continue;
    }
    for (const YAML::Node& entry_node : entries) {
      ExceptionEntry entry;
      if (!entry_node.IsMap() || !entry_node["field"] || !entry_node["type"]) {
        error(entry_node, "an entry needs `field` and `type`");
        ok = false;
        continue;
      }
      entry.field = entry_node["field"].as<std::string>();
      entry.type = entry_node["type"].as<std::string>();
      std::string op =
          entry_node["operator"] ? entry_node["operator"].as<std::string>() : "included";
      if (op != "included" && op != "excluded") {
        error(entry_node["operator"], fmt::format("unknown operator `{}`", op),
              "use included or excluded");
        ok = false;
      }
      entry.excluded = op == "excluded";
      if (std::find(kTypes.begin(), kTypes.end(), entry.type) == kTypes.end()) {
        error(entry_node["type"], fmt::format("unknown entry type `{}`", entry.type),
              "types are match, match_any, wildcard, exists, cidr and list");
        ok = false;
        continue;
      }
      YAML::Node value = entry_node["value"];
      if (entry.type == "list") {
        entry.list = entry_node["list"] ? entry_node["list"].as<std::string>() : "";
        if (!set.value_lists.contains(entry.list)) {
          error(entry_node, fmt::format("unknown value list `{}`", entry.list),
                "declare it under `value_lists`");
          ok = false;
        }
      } else if (entry.type != "exists") {
        if (!value) {
          error(entry_node, fmt::format("a `{}` entry needs a `value`", entry.type));
          ok = false;
          continue;
        }
        if (value.IsSequence()) {
          for (const auto& v : value) entry.values.push_back(v.as<std::string>());
        } else {
          entry.values.push_back(value.as<std::string>());
        }
      }
      item.entries.push_back(std::move(entry));
    }
    if (ok) set.items.push_back(std::move(item));
  }
  return set;
}

namespace {

eql::ExprPtr node(eql::ExprKind kind, std::vector<eql::ExprPtr> args = {}) {
  eql::ExprPtr expr = eql::make_expr(kind, Span{});
  expr->args = std::move(args);
  for (const auto& arg : expr->args) expr->height = std::max(expr->height, arg->height + 1);
  return expr;
}

eql::ExprPtr literal(eql::Value value) {
  eql::ExprPtr expr = node(eql::ExprKind::Literal);
  expr->literal = std::move(value);
  return expr;
}

// An entry as an EQL expression tree, built directly, so that it is
// evaluated with the engine's semantics.
eql::ExprPtr entry_expr(const ExceptionEntry& entry, const ExceptionSet& set) {
  auto field_and = [&](const std::vector<std::string>& values) {
    std::vector<eql::ExprPtr> args;
    eql::ExprPtr field = node(eql::ExprKind::Field);
    field->name = entry.field;
    args.push_back(std::move(field));
    for (const std::string& value : values) args.push_back(literal(eql::Value::of_string(value)));
    return args;
  };
  eql::ExprPtr condition;
  if (entry.type == "match") {
    condition = node(eql::ExprKind::Compare, field_and({entry.values.at(0)}));
  } else if (entry.type == "match_any") {
    condition = node(eql::ExprKind::In, field_and(entry.values));
  } else if (entry.type == "wildcard") {
    condition = node(eql::ExprKind::Match, field_and(entry.values));
    condition->match = eql::MatchOp::Like;
    condition->list = entry.values.size() > 1;
  } else if (entry.type == "exists") {
    auto args = field_and({});
    args.push_back(literal(eql::Value::null()));
    condition = node(eql::ExprKind::Compare, std::move(args));
    condition->compare = eql::CompareOp::NotEqual;
  } else if (entry.type == "cidr") {
    condition = node(eql::ExprKind::Call, field_and(entry.values));
    condition->name = "cidrMatch";
  } else if (entry.type == "list") {
    const auto& values = set.value_lists.at(entry.list);
    condition = values.empty() ? literal(eql::Value::of_bool(false))
                               : node(eql::ExprKind::In, field_and(values));
  } else {
    return nullptr;
  }
  if (!entry.excluded) return condition;
  std::vector<eql::ExprPtr> negated;
  negated.push_back(std::move(condition));
  return node(eql::ExprKind::Not, std::move(negated));
}

}  // namespace

CompiledExceptions::CompiledExceptions(const ExceptionSet& set, const Schema& schema,
                                       FieldIndex& fields) {
  for (const ExceptionItem& item : set.items) {
    if (!item.enabled) continue;
    std::vector<eql::ExprPtr> entries;
    for (const ExceptionEntry& entry : item.entries)
      if (eql::ExprPtr expr = entry_expr(entry, set)) entries.push_back(std::move(expr));
    if (entries.empty() || entries.size() != item.entries.size()) continue;
    eql::ExprPtr expr = entries.size() == 1 ? std::move(entries.front())
                                            : node(eql::ExprKind::And, std::move(entries));
    CompileContext context{schema, fields, nullptr, {}};
    items_.push_back({&item, compile_expression(*expr, context)});
  }
}

std::vector<uint32_t> CompiledExceptions::slots() const {
  std::vector<uint32_t> slots;
  for (const Item& item : items_) collect_slots(*item.condition, slots);
  return slots;
}

const std::string* CompiledExceptions::match(const std::string& rule_id, const Event& event) const {
  for (const Item& item : items_) {
    const auto& ids = item.source->rule_ids;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), rule_id) == ids.end()) continue;
    if (holds(*item.condition, event)) return &item.source->name;
  }
  return nullptr;
}

}  // namespace pickaxe
