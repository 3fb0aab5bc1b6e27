#include "match/wildcard_set.h"

#include <hs/hs.h>

#include <cctype>
#include <unordered_set>

#include <fmt/format.h>

#include "event/patterns.h"
#include "ingest/shared_database.h"

namespace pickaxe {

namespace {

// One scratch per thread, grown once for each database it scans, and freed
// when the thread ends.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  std::unordered_set<uint64_t> fitted;
  ~ThreadScratch() {
    if (scratch) hs_free_scratch(scratch);
  }
};

hs_scratch_t* thread_scratch(const SharedDatabase& database) {
  thread_local ThreadScratch local;
  if (local.fitted.contains(database.id())) return local.scratch;
  if (hs_alloc_scratch(database.get(), &local.scratch) != HS_SUCCESS) return nullptr;
  local.fitted.insert(database.id());
  return local.scratch;
}

int on_match(unsigned int, unsigned long long, unsigned long long, unsigned int, void* context) {
  *static_cast<bool*>(context) = true;
  return 1;  // stop at the first match
}

int on_each_match(unsigned int id, unsigned long long, unsigned long long, unsigned int,
                  void* context) {
  static_cast<std::vector<uint32_t>*>(context)->push_back(id);
  return 0;
}

}  // namespace

std::string wildcard_to_hs(std::string_view pattern) {
  std::string out = "\\A";
  for (char c : pattern) {
    if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else if (static_cast<unsigned char>(c) >= 0x80 ||
               std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  out += "\\z";
  return out;
}

WildcardSet::~WildcardSet() = default;

bool WildcardSet::compile(const std::vector<std::string>& patterns, bool caseless,
                          std::string* error) {
  if (patterns.empty()) return false;
  std::vector<DatabasePattern> expressions;
  for (size_t i = 0; i < patterns.size(); ++i) {
    const bool each_caseless = caseless || (i < caseless_each_.size() && caseless_each_[i]);
    expressions.push_back({wildcard_to_hs(patterns[i]),
                           HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY |
                               HS_FLAG_UTF8 | (each_caseless ? HS_FLAG_CASELESS : 0u),
                           static_cast<unsigned>(i)});
  }
  database_ = shared_database(expressions, false, error);
  return database_ != nullptr;
}

void WildcardSet::compile_once() const {
  if (!patterns_.empty()) {
    std::call_once(compile_once_,
                   [this] { const_cast<WildcardSet*>(this)->compile(patterns_, caseless_); });
  }
}

void WildcardSet::match_all(std::string_view text, std::vector<uint32_t>& ids) const {
  compile_once();
  hs_scratch_t* scratch = database_ ? thread_scratch(*database_) : nullptr;
  if (!scratch) {
    for (size_t i = 0; i < patterns_.size(); ++i) {
      bool caseless = caseless_ || (i < caseless_each_.size() && caseless_each_[i]);
      if (wildcard_match(text, patterns_[i], caseless)) ids.push_back(static_cast<uint32_t>(i));
    }
    return;
  }
  hs_scan(database_->get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch,
          on_each_match, &ids);
}

bool WildcardSet::matches(std::string_view text) const {
  compile_once();
  hs_scratch_t* scratch = database_ ? thread_scratch(*database_) : nullptr;
  if (!scratch) {
    for (const std::string& pattern : patterns_)
      if (wildcard_match(text, pattern, caseless_)) return true;
    return false;
  }
  bool matched = false;
  hs_scan(database_->get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_match,
          &matched);
  return matched;
}

FactoredWildcards::FactoredWildcards(std::vector<std::string> patterns, std::vector<bool> caseless)
    : patterns_(std::move(patterns)), caseless_(std::move(caseless)) {
  for (size_t i = 0; i < patterns_.size(); ++i) {
    // The pattern's longest run of plain characters.
    std::string_view pattern = patterns_[i], longest;
    for (size_t start = 0; start <= pattern.size();) {
      size_t end = pattern.find_first_of("*?", start);
      if (end == std::string_view::npos) end = pattern.size();
      if (end - start > longest.size()) longest = pattern.substr(start, end - start);
      start = end + 1;
    }
    if (longest.empty()) {
      always_.push_back(static_cast<uint32_t>(i));
      continue;
    }
    size_t at = 0;
    while (at < literals_.size() &&
           !(literals_[at] == longest && literal_caseless_[at] == caseless_[i]))
      ++at;
    if (at == literals_.size()) {
      literals_.emplace_back(longest);
      literal_caseless_.push_back(caseless_[i]);
      by_literal_.emplace_back();
    }
    by_literal_[at].push_back(static_cast<uint32_t>(i));
  }
}

FactoredWildcards::~FactoredWildcards() = default;

void FactoredWildcards::compile() const {
  if (literals_.empty()) return;
  std::vector<DatabasePattern> literals;
  for (size_t i = 0; i < literals_.size(); ++i)
    literals.push_back({literals_[i],
                        HS_FLAG_SINGLEMATCH | (literal_caseless_[i] ? HS_FLAG_CASELESS : 0u),
                        static_cast<unsigned>(i)});
  database_ = shared_database(literals, true);  // null: matched pattern by pattern instead
}

void FactoredWildcards::match_all(std::string_view text, std::vector<uint32_t>& ids) const {
  prepare();
  auto verify = [&](uint32_t pattern) {
    if (wildcard_match(text, patterns_[pattern], caseless_[pattern])) ids.push_back(pattern);
  };
  for (uint32_t pattern : always_) verify(pattern);
  hs_scratch_t* scratch = database_ ? thread_scratch(*database_) : nullptr;
  if (!scratch) {
    for (const auto& patterns : by_literal_)
      for (uint32_t pattern : patterns) verify(pattern);
    return;
  }
  thread_local std::vector<uint32_t> literals;
  literals.clear();
  hs_scan(database_->get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch,
          on_each_match, &literals);
  for (uint32_t literal : literals)
    for (uint32_t pattern : by_literal_[literal]) verify(pattern);
}

}  // namespace pickaxe
