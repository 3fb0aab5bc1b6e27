// pickaxe.toml: defaults for every command's options, read with toml++ and
// applied by CLI11 under the command line (a flag given wins over the file,
// the file over the built-in default).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace pickaxe::cli {

// The configuration file to read: --config FILE (also --config=FILE) from
// `args`, else $PICKAXE_CONFIG, else ./pickaxe.toml, else
// $XDG_CONFIG_HOME/pickaxe/pickaxe.toml (~/.config when unset); "" when
// none exists. `named` says whether it was named (then it must exist).
std::string find_config(const std::vector<std::string>& args, bool& named);

// Reads the file for `command` (a subcommand of `app`): keys of [command],
// and top-level keys naming one of its options. Unknown sections and keys,
// and values of the wrong shape, are errors naming file:line:col, with the
// nearest name as a hint.
std::shared_ptr<CLI::Config> make_config_reader(const CLI::App& app, std::string command,
                                                std::string path);

// The options of `command` as they are after parsing (command line over
// file over default), as a pickaxe.toml section.
std::string print_config(const CLI::App& command);

// Where the file sets `key` for `command` ("path:line:col"): its section's
// key, else the top-level one; "" when it does not.
std::string config_location(const std::string& path, const std::string& command,
                            const std::string& key);

// `pickaxe help config`: where the file is looked for, and its shape.
std::string config_help();

// The candidate nearest to `word` by edit distance, when close enough to be
// a likely typo; "" otherwise.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace pickaxe::cli
