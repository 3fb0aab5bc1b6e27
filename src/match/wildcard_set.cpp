#include "match/wildcard_set.h"

#include <hs/hs.h>

#include <atomic>
#include <cctype>
#include <unordered_set>

#include <fmt/format.h>

#include "match/patterns.h"

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
    flags.push_back(HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY | HS_FLAG_UTF8 |
                    (caseless ? HS_FLAG_CASELESS : 0));
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

bool WildcardSet::matches(std::string_view text) const {
  if (!patterns_.empty()) {
    std::call_once(compile_once_,
                   [this] { const_cast<WildcardSet*>(this)->compile(patterns_, caseless_); });
  }
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

}  // namespace pickaxe
