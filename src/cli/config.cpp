#include "cli/config.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "util/strings.h"

namespace pickaxe::cli {

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    // Damerau-Levenshtein (optimal string alignment).
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  const std::string folded = to_lower(word);
  for (const std::string& candidate : candidates) {
    // Far longer or shorter names cannot be near: not measured.
    if (candidate.size() > word.size() + best_distance + 8 ||
        word.size() > candidate.size() + best_distance)
      continue;
    size_t found = distance(folded, to_lower(candidate));
    // A prefix of a longer name ("--form" for "--format") counts as close.
    if (candidate.starts_with(word) && word.size() >= 3) found = std::min<size_t>(found, 1);
    if (found < best_distance) {
      best_distance = found;
      best = candidate;
    }
  }
  return best;
}

std::string find_config(const std::vector<std::string>& args, bool& named) {
  named = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--config" && i + 1 < args.size()) {
      named = true;
      return args[i + 1];
    }
    if (args[i].starts_with("--config=")) {
      named = true;
      return args[i].substr(9);
    }
  }
  if (const char* path = std::getenv("PICKAXE_CONFIG"); path && *path) {
    named = true;
    return path;
  }
  std::error_code error;
  if (std::filesystem::is_regular_file("pickaxe.toml", error)) return "pickaxe.toml";
  std::filesystem::path home;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    home = xdg;
  else if (const char* user = std::getenv("HOME"); user && *user)
    home = std::filesystem::path(user) / ".config";
  if (!home.empty() && std::filesystem::is_regular_file(home / "pickaxe" / "pickaxe.toml", error))
    return (home / "pickaxe" / "pickaxe.toml").string();
  return "";
}

namespace {

std::vector<std::string> option_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options())
    for (const std::string& name : option->get_lnames())
      if (name != "help" && name != "config" && name != "print-config") names.push_back(name);
  return names;
}

const CLI::Option* find_option(const CLI::App& command, const std::string& name) {
  for (const CLI::Option* option : command.get_options()) {
    const auto& names = option->get_lnames();
    if (std::find(names.begin(), names.end(), name) != names.end()) return option;
  }
  return nullptr;
}

class TomlConfig : public CLI::ConfigTOML {
 public:
  TomlConfig(const CLI::App& app, std::string command, std::string path)
      : app_(app), command_(std::move(command)), path_(std::move(path)) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::stringstream text;
    text << input.rdbuf();
    toml::table document;
    try {
      document = toml::parse(text.str(), path_);
    } catch (const toml::parse_error& error) {
      throw CLI::ConfigError(fmt::format("{}:{}:{}: {}", path_, error.source().begin.line,
                                         error.source().begin.column, error.description()));
    }
    std::vector<std::string> commands;
    for (const CLI::App* sub : app_.get_subcommands([](const CLI::App*) { return true; }))
      commands.push_back(sub->get_name());
    const CLI::App* active = nullptr;
    for (const CLI::App* sub : app_.get_subcommands([](const CLI::App*) { return true; }))
      if (sub->get_name() == command_) active = sub;
    std::vector<CLI::ConfigItem> items, top_items;  // the command's section's, the top level's
    std::vector<std::string> problems;
    auto at = [&](const toml::source_region& region) {
      return fmt::format("{}:{}:{}", path_, region.begin.line, region.begin.column);
    };
    auto where = [&](const toml::node& node) { return at(node.source()); };
    // A key of the command's section, or a top-level one it has.
    auto take = [&](const toml::key& written, const toml::node& value, bool top_level) {
      const std::string key(written.str());
      const CLI::Option* option = active ? find_option(*active, key) : nullptr;
      if (!option) {
        if (top_level) {
          // A top-level key must be some command's option.
          for (const CLI::App* sub : app_.get_subcommands([](const CLI::App*) { return true; }))
            if (find_option(*sub, key)) return;
          std::vector<std::string> all;
          for (const CLI::App* sub : app_.get_subcommands([](const CLI::App*) { return true; }))
            for (const std::string& name : option_names(*sub)) all.push_back(name);
          std::string hint = nearest(key, all);
          problems.push_back(
              fmt::format("{}: no command has an option --{}{}", at(written.source()), key,
                          hint.empty() ? "" : fmt::format("; did you mean {}?", hint)));
          return;
        }
        std::string hint = active ? nearest(key, option_names(*active)) : "";
        problems.push_back(
            fmt::format("{}: `pickaxe {}` has no option --{}{}", at(written.source()), command_,
                        key, hint.empty() ? "" : fmt::format("; did you mean {}?", hint)));
        return;
      }
      CLI::ConfigItem item;
      item.parents = {command_};
      item.name = key;
      auto scalar = [&](const toml::node& node) -> std::optional<std::string> {
        if (auto text = node.value<std::string>()) return *text;
        if (auto flag = node.value_exact<bool>()) return *flag ? "true" : "false";
        if (auto number = node.value_exact<int64_t>()) return std::to_string(*number);
        if (auto real = node.value_exact<double>()) return fmt::format("{}", *real);
        return std::nullopt;
      };
      if (const toml::array* array = value.as_array()) {
        for (const toml::node& element : *array) {
          std::optional<std::string> text = scalar(element);
          if (!text) {
            problems.push_back(
                fmt::format("{}: --{} takes strings or numbers", where(element), key));
            return;
          }
          item.inputs.push_back(*text);
        }
      } else if (std::optional<std::string> text = scalar(value)) {
        item.inputs.push_back(*text);
      } else {
        problems.push_back(
            fmt::format("{}: --{} takes a string, number, boolean or array", where(value), key));
        return;
      }
      if (option->get_expected_max() == 0 && item.inputs.size() != 1) {
        problems.push_back(fmt::format("{}: --{} is a flag: true or false", where(value), key));
        return;
      }
      (top_level ? top_items : items).push_back(std::move(item));
    };
    for (const auto& [key, value] : document) {
      const std::string name(key.str());
      if (const toml::table* section = value.as_table()) {
        if (std::find(commands.begin(), commands.end(), name) == commands.end()) {
          std::string hint = nearest(name, commands);
          problems.push_back(
              fmt::format("{}: [{}] is no command{}", at(key.source()), name,
                          hint.empty() ? "" : fmt::format("; did you mean [{}]?", hint)));
          continue;
        }
        if (name != command_) continue;
        for (const auto& [option, option_value] : *section) take(option, option_value, false);
        continue;
      }
      take(key, value, true);
    }
    // In the file's order ("path:line:col: ..."), whatever the table's.
    auto position = [&](const std::string& problem) {
      unsigned line = 0, column = 0;
      std::sscanf(problem.c_str() + path_.size(), ":%u:%u", &line, &column);
      return std::pair(line, column);
    };
    std::stable_sort(
        problems.begin(), problems.end(),
        [&](const std::string& a, const std::string& b) { return position(a) < position(b); });
    if (!problems.empty())
      throw CLI::ConfigError(fmt::format("{}", fmt::join(problems, "\npickaxe: ")));
    // A key of the section wins over the same key at the top level.
    for (CLI::ConfigItem& item : top_items)
      if (std::none_of(items.begin(), items.end(),
                       [&](const CLI::ConfigItem& own) { return own.name == item.name; }))
        items.push_back(std::move(item));
    return items;
  }

 private:
  const CLI::App& app_;
  std::string command_;
  std::string path_;
};

bool looks_numeric(const std::string& text) {
  if (text.empty()) return false;
  size_t i = text[0] == '-' ? 1 : 0;
  return i < text.size() && std::all_of(text.begin() + static_cast<long>(i), text.end(),
                                        [](char c) { return c >= '0' && c <= '9'; });
}

std::string toml_value(const std::string& text) {
  if (looks_numeric(text)) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + '"';
}

}  // namespace

std::string config_location(const std::string& path, const std::string& command,
                            const std::string& key) {
  toml::table document;
  try {
    document = toml::parse_file(path);
  } catch (const toml::parse_error&) {
    return "";
  }
  auto place = [&](const toml::table& table) -> std::string {
    for (const auto& [name, value] : table)
      if (name.str() == key)
        return fmt::format("{}:{}:{}", path, name.source().begin.line, name.source().begin.column);
    return "";
  };
  if (const toml::table* section = document[command].as_table())
    if (std::string found = place(*section); !found.empty()) return found;
  return place(document);
}

std::string config_help() {
  return R"(pickaxe.toml sets defaults for the options of every command.

Where: --config FILE on any command; else $PICKAXE_CONFIG; else ./pickaxe.toml;
else $XDG_CONFIG_HOME/pickaxe/pickaxe.toml (~/.config/pickaxe/pickaxe.toml).

Shape: one [section] per command, its keys the command's long option names
without the dashes; top-level keys apply to every command that has that
option. A section's key wins over a top-level one; an option given on the
command line wins over both. Flags take true or false, repeatable options an
array.

    # pickaxe.toml
    rules = ["/etc/pickaxe/rules"]   # hunt, watch, serve, rules
    max-signals = "unlimited"

    [hunt]
    format = "table"
    exceptions = "/etc/pickaxe/exceptions.yml"
    suppress-by = ["host.name"]

    [watch]
    state-dir = "/var/lib/pickaxe"

`pickaxe COMMAND --print-config` prints what a command would run with, as a
section of this file. An unknown section or key is an error naming its line
and column.
)";
}

std::shared_ptr<CLI::Config> make_config_reader(const CLI::App& app, std::string command,
                                                std::string path) {
  return std::make_shared<TomlConfig>(app, std::move(command), std::move(path));
}

std::string print_config(const CLI::App& command) {
  std::string out = fmt::format("[{}]\n", command.get_name());
  for (const CLI::Option* option : command.get_options()) {
    if (option->get_lnames().empty()) continue;  // positional arguments
    const std::string& name = option->get_lnames().front();
    if (name == "help" || name == "config" || name == "print-config") continue;
    std::string value;
    if (option->get_expected_max() == 0) {
      value = option->count() > 0 && option->as<bool>() ? "true" : "false";
    } else if (option->get_expected_max() > 1) {
      std::vector<std::string> values;
      for (const std::string& result : option->results()) values.push_back(toml_value(result));
      if (values.empty()) {
        out += fmt::format("# {} = []\n", name);  // none: an empty array would be an error
        continue;
      }
      value = fmt::format("[{}]", fmt::join(values, ", "));
    } else if (option->count() > 0 && !option->results().empty()) {
      value = toml_value(option->results().back());
    } else if (!option->get_default_str().empty()) {
      value = toml_value(option->get_default_str());
    } else {
      out += fmt::format("# {} = \"\"\n", name);  // no default: unset
      continue;
    }
    out += fmt::format("{} = {}\n", name, value);
  }
  return out;
}

}  // namespace pickaxe::cli
