// Many wildcard patterns matched at once: one Vectorscan (libhs) database per
// list, compiled when first used (most rules of a large set never see an event
// of their kind) and shared read-only; each thread scans with scratch space of
// its own.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

class SharedDatabase;

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
  // Adds to `ids` the index of each pattern that matches the whole text.
  void match_all(std::string_view text, std::vector<uint32_t>& ids) const;
  // Patterns of their own case sense: `caseless[i]` for patterns[i].
  WildcardSet(std::vector<std::string> patterns, std::vector<bool> caseless)
      : patterns_(std::move(patterns)), caseless_each_(std::move(caseless)) {}

 private:
  std::vector<std::string> patterns_;  // for the lazy compile
  bool caseless_ = false;
  std::vector<bool> caseless_each_;  // per pattern, when given
  void compile_once() const;
  mutable std::once_flag compile_once_;
  std::shared_ptr<const SharedDatabase> database_;
};

// Many wildcard patterns, matched through their literals: one Vectorscan
// literal database (quick to build, however many patterns) finds each
// pattern's longest literal in a value, and only the patterns whose literal
// occurs are then matched in full. Compiled when first used.
class FactoredWildcards {
 public:
  FactoredWildcards(std::vector<std::string> patterns, std::vector<bool> caseless);
  FactoredWildcards(const FactoredWildcards&) = delete;
  FactoredWildcards& operator=(const FactoredWildcards&) = delete;
  ~FactoredWildcards();
  // Adds to `ids` the index of each pattern that matches the whole text.
  void match_all(std::string_view text, std::vector<uint32_t>& ids) const;
  // The literals its database holds: a rough measure of how long it takes
  // to compile.
  size_t literal_count() const { return literals_.size(); }
  // Compiles now rather than at the first match (once, whichever thread asks).
  void prepare() const {
    std::call_once(compile_once_, [this] { compile(); });
  }

 private:
  void compile() const;
  std::vector<std::string> patterns_;
  std::vector<bool> caseless_;
  std::vector<std::string> literals_;
  std::vector<bool> literal_caseless_;
  std::vector<std::vector<uint32_t>> by_literal_;  // per literal: the patterns holding it
  std::vector<uint32_t> always_;                   // patterns without a literal
  mutable std::once_flag compile_once_;
  mutable std::shared_ptr<const SharedDatabase> database_;
};

// The Vectorscan expression for one wildcard pattern.
std::string wildcard_to_hs(std::string_view pattern);

}  // namespace pickaxe
