// Many wildcard patterns matched at once: one Vectorscan (libhs) database per
// list, compiled when first used (most rules of a large set never see an event
// of their kind) and shared read-only; each thread scans with scratch space of
// its own.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct hs_database;

namespace pickaxe {

class WildcardSet {
 public:
  WildcardSet() = default;
  // Patterns compiled on first use; matched one by one if Vectorscan cannot take them.
  WildcardSet(std::vector<std::string> patterns, bool caseless)
      : patterns_(std::move(patterns)), caseless_(caseless) {}
  WildcardSet(const WildcardSet&) = delete;
  WildcardSet& operator=(const WildcardSet&) = delete;
  ~WildcardSet();

  // Compiles `*` / `?` patterns (anchored to the whole value). Returns false,
  // with the reason, when Vectorscan cannot take them; callers then match
  // pattern by pattern.
  bool compile(const std::vector<std::string>& patterns, bool caseless,
               std::string* error = nullptr);
  bool compiled() const { return database_ != nullptr; }
  // True when any pattern matches the whole text.
  bool matches(std::string_view text) const;

 private:
  std::vector<std::string> patterns_;  // for the lazy compile
  bool caseless_ = false;
  mutable std::once_flag compile_once_;
  hs_database* database_ = nullptr;
  uint64_t id_ = 0;  // tells the per-thread scratch which databases it fits
};

// The Vectorscan expression for one wildcard pattern.
std::string wildcard_to_hs(std::string_view pattern);

}  // namespace pickaxe
