#include "match/wildcard_set.h"

#include <hs/hs.h>

#include <atomic>
#include <cctype>
#include <unordered_set>

#include <fmt/format.h>

#include "event/patterns.h"

namespace pickaxe {

namespace {

std::atomic<uint64_t> next_id{1};

// One scratch per thread, grown once for each database it scans, and freed
// when the thread ends.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  std::unordered_set<uint64_t> fitted;
  ~ThreadScratch() {
    if (scratch) hs_free_scratch(scratch);
  }
};

hs_scratch_t* thread_scratch(const hs_database_t* database, uint64_t id) {
  thread_local ThreadScratch local;
  if (local.fitted.contains(id)) return local.scratch;
  if (hs_alloc_scratch(database, &local.scratch) != HS_SUCCESS) return nullptr;
  local.fitted.insert(id);
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

WildcardSet::~WildcardSet() {
  if (database_) hs_free_database(database_);
}

bool WildcardSet::compile(const std::vector<std::string>& patterns, bool caseless,
                          std::string* error) {
  if (patterns.empty()) return false;
  std::vector<std::string> expressions;
  std::vector<const char*> pointers;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < patterns.size(); ++i) {
    expressions.push_back(wildcard_to_hs(patterns[i]));
    flags.push_back(
        HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY | HS_FLAG_UTF8 |
        (caseless || (i < caseless_each_.size() && caseless_each_[i]) ? HS_FLAG_CASELESS : 0));
    ids.push_back(static_cast<unsigned>(i));
  }
  for (const std::string& expression : expressions) pointers.push_back(expression.c_str());
  hs_compile_error_t* compile_error = nullptr;
  hs_error_t status = hs_compile_multi(pointers.data(), flags.data(), ids.data(),
                                       static_cast<unsigned>(pointers.size()), HS_MODE_BLOCK,
                                       nullptr, &database_, &compile_error);
  if (status != HS_SUCCESS) {
    if (error && compile_error) *error = compile_error->message;
    if (compile_error) hs_free_compile_error(compile_error);
    database_ = nullptr;
    return false;
  }
  id_ = next_id++;
  return true;
}

void WildcardSet::compile_once() const {
  if (!patterns_.empty()) {
    std::call_once(compile_once_,
                   [this] { const_cast<WildcardSet*>(this)->compile(patterns_, caseless_); });
  }
}

void WildcardSet::match_all(std::string_view text, std::vector<uint32_t>& ids) const {
  compile_once();
  hs_scratch_t* scratch = database_ ? thread_scratch(database_, id_) : nullptr;
  if (!scratch) {
    for (size_t i = 0; i < patterns_.size(); ++i) {
      bool caseless = caseless_ || (i < caseless_each_.size() && caseless_each_[i]);
      if (wildcard_match(text, patterns_[i], caseless)) ids.push_back(static_cast<uint32_t>(i));
    }
    return;
  }
  hs_scan(database_, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_each_match,
          &ids);
}

bool WildcardSet::matches(std::string_view text) const {
  compile_once();
  hs_scratch_t* scratch = database_ ? thread_scratch(database_, id_) : nullptr;
  if (!scratch) {
    for (const std::string& pattern : patterns_)
      if (wildcard_match(text, pattern, caseless_)) return true;
    return false;
  }
  bool matched = false;
  hs_scan(database_, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_match,
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

FactoredWildcards::~FactoredWildcards() {
  if (database_) hs_free_database(database_);
}

void FactoredWildcards::compile() const {
  if (literals_.empty()) return;
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < literals_.size(); ++i) {
    pointers.push_back(literals_[i].data());
    lengths.push_back(literals_[i].size());
    flags.push_back(HS_FLAG_SINGLEMATCH | (literal_caseless_[i] ? HS_FLAG_CASELESS : 0));
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* error = nullptr;
  if (hs_compile_lit_multi(pointers.data(), flags.data(), ids.data(), lengths.data(),
                           static_cast<unsigned>(pointers.size()), HS_MODE_BLOCK, nullptr,
                           &database_, &error) != HS_SUCCESS) {
    if (error) hs_free_compile_error(error);
    database_ = nullptr;  // matched pattern by pattern instead
    return;
  }
  id_ = next_id++;
}

void FactoredWildcards::match_all(std::string_view text, std::vector<uint32_t>& ids) const {
  prepare();
  auto verify = [&](uint32_t pattern) {
    if (wildcard_match(text, patterns_[pattern], caseless_[pattern])) ids.push_back(pattern);
  };
  for (uint32_t pattern : always_) verify(pattern);
  hs_scratch_t* scratch = database_ ? thread_scratch(database_, id_) : nullptr;
  if (!scratch) {
    for (const auto& patterns : by_literal_)
      for (uint32_t pattern : patterns) verify(pattern);
    return;
  }
  thread_local std::vector<uint32_t> literals;
  literals.clear();
  hs_scan(database_, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_each_match,
          &literals);
  for (uint32_t literal : literals)
    for (uint32_t pattern : by_literal_[literal]) verify(pattern);
}

}  // namespace pickaxe
