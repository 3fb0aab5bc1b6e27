#include "ingest/prefilter.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ingest/shared_database.h"

namespace pickaxe {

namespace {

// Vectorscan syntax for a literal: letters and digits as they are, every
// other byte as \xHH.
std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) && byte < 0x80)
      out += c;
    else
      out += fmt::format("\\x{:02x}", byte);
  }
  return out;
}

struct ScanState {
  const char* data;
  size_t size;
  size_t literal_count;
  size_t line_begin = 1, line_end = 0;  // the line of the last hit (empty at first)
  std::vector<Prefilter::Scanner::Hit>* hits;
};

int on_hit(unsigned int id, unsigned long long, unsigned long long to, unsigned int,
           void* context) {
  auto& state = *static_cast<ScanState*>(context);
  size_t at = to == 0 ? 0 : static_cast<size_t>(to) - 1;  // the hit's last byte
  if (at < state.line_begin || at > state.line_end) {
    const void* newline = std::memchr(state.data + at, '\n', state.size - at);
    state.line_end =
        newline ? static_cast<size_t>(static_cast<const char*>(newline) - state.data) : state.size;
    const void* previous = at == 0 ? nullptr : memrchr(state.data, '\n', at);
    state.line_begin =
        previous ? static_cast<size_t>(static_cast<const char*>(previous) - state.data) + 1 : 0;
  }
  state.hits->push_back(
      {state.line_end, id < state.literal_count ? id : Prefilter::Scanner::kTrigger});
  return 0;
}

}  // namespace

std::shared_ptr<const Prefilter> Prefilter::compile(
    std::vector<std::string> literals, std::vector<std::string> numeric_keys, bool detect_sources,
    bool skips_lines, std::vector<std::vector<Clauses>> group_filters) {
  std::vector<std::string> expressions;
  std::vector<unsigned> flags;
  for (const std::string& text : literals) {
    expressions.push_back(escape(text));
    flags.push_back(HS_FLAG_CASELESS);
  }
  // A \uXXXX or \/ escape (after an even run of backslashes) can spell a literal.
  expressions.push_back(R"([^\\\n](\\\\)*\\[u/])");
  flags.push_back(0);
  // Numbers in another spelling (3333.0, 3.333e3, "3333.0", also in an
  // array) under the keys numeric literals are compared on.
  for (const std::string& key : numeric_keys) {
    expressions.push_back(
        escape(key) +
        R"re("[ \t\r]*:[ \t\r]*(\[[^\]\n]*)?"?[-+]?([0-9]*\.[0-9]*([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)["\s,}\]])re");
    flags.push_back(0);
  }
  if (detect_sources) {
    expressions.push_back(
        R"re("(eventSource|timeNano|time|SyslogMessage|winlog|Records|hits)"[ \t\r]*:)re");
    flags.push_back(0);
  }
  std::shared_ptr<Prefilter> prefilter(new Prefilter());
  prefilter->expressions_ = std::move(expressions);
  prefilter->flags_ = std::move(flags);
  // The literals the most filters need, for Scanner::worth_scanning.
  std::vector<size_t> uses(literals.size(), 0);
  for (const auto& group : group_filters)
    for (const Clauses& clauses : group)
      for (const std::vector<uint32_t>& clause : clauses)
        for (uint32_t id : clause) ++uses[id];
  std::vector<uint32_t> order(literals.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return uses[a] > uses[b]; });
  constexpr size_t kCommon = 16;
  for (size_t i = 0; i < order.size() && i < kCommon; ++i)
    prefilter->common_.push_back(literals[order[i]]);
  prefilter->literals_ = std::move(literals);
  prefilter->skips_lines_ = skips_lines;
  prefilter->group_filters_ = std::move(group_filters);
  return prefilter;
}

hs_database* Prefilter::database() const {
  std::call_once(compile_once_, [this] {
    std::vector<DatabasePattern> expressions;
    for (size_t i = 0; i < expressions_.size(); ++i)
      expressions.push_back({expressions_[i], flags_[i], static_cast<unsigned>(i)});
    // Literals are escaped: a failure is not expected; then no scanning.
    database_ = shared_database(expressions, false);
  });
  return database_ ? database_->get() : nullptr;
}

Prefilter::~Prefilter() = default;

Prefilter::Scanner::Scanner(const Prefilter& prefilter) : prefilter_(prefilter) {}

bool Prefilter::Scanner::prepare() {
  if (scratch_) return true;
  hs_database* database = prefilter_.database();
  return database && hs_alloc_scratch(database, &scratch_) == HS_SUCCESS;
}

Prefilter::Scanner::~Scanner() {
  if (scratch_) hs_free_scratch(scratch_);
}

bool Prefilter::Scanner::scan(std::string_view text, std::vector<Hit>& hits) {
  hits.clear();
  if (!prepare()) return false;
  ScanState state{text.data(), text.size(), prefilter_.literals_.size(), 1, 0, &hits};
  if (hs_scan(prefilter_.database_->get(), text.data(), static_cast<unsigned>(text.size()), 0,
              scratch_, on_hit, &state) != HS_SUCCESS)
    return false;
  // Hits come ordered by their end, so by line; make sure.
  if (!std::is_sorted(hits.begin(), hits.end(),
                      [](const Hit& a, const Hit& b) { return a.line_end < b.line_end; }))
    std::stable_sort(hits.begin(), hits.end(),
                     [](const Hit& a, const Hit& b) { return a.line_end < b.line_end; });
  return true;
}

bool Prefilter::Scanner::worth_scanning(std::string_view sample) {
  if (!prefilter_.skips_lines_) return false;
  auto each_line = [&](auto&& on_line) {
    for (size_t pos = 0; pos < sample.size();) {
      const void* newline = std::memchr(sample.data() + pos, '\n', sample.size() - pos);
      size_t end = newline ? static_cast<size_t>(static_cast<const char*>(newline) - sample.data())
                           : sample.size();
      on_line(sample.substr(pos, end - pos), end);
      pos = end + 1;
    }
  };
  // First the commonest literals, as they are written: if they alone are on
  // two lines in three, scanning cannot pay, and nothing is compiled.
  size_t lines = 0, surely_hit = 0;
  each_line([&](std::string_view line, size_t) {
    ++lines;
    for (const std::string& literal : prefilter_.common_) {
      if (line.find(literal) != std::string_view::npos) {
        ++surely_hit;
        break;
      }
    }
  });
  if (surely_hit * 3 > lines * 2) return false;
  std::vector<Hit> hits;
  if (!scan(sample, hits)) return true;
  size_t skippable = 0, next_hit = 0;
  each_line([&](std::string_view, size_t end) {
    while (next_hit < hits.size() && hits[next_hit].line_end < end) ++next_hit;
    if (next_hit == hits.size() || hits[next_hit].line_end != end) ++skippable;
  });
  // Scanning a line costs about a third of parsing and matching it for a
  // large rule set (less for a small one): it pays when a third of the lines
  // or more can be skipped.
  return skippable * 3 >= lines;
}

}  // namespace pickaxe
