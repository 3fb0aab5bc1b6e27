// Compressed input: .gz (zlib) and .zst (zstd) files are read whole and
// decompressed in memory.
#pragma once

#include <optional>
#include <string>

namespace pickaxe {

bool is_compressed(const std::string& path);  // by extension: .gz, .zst
// The decompressed contents, or nullopt with the reason in `error`.
std::optional<std::string> read_decompressed(const std::string& path, std::string& error);

}  // namespace pickaxe
