// The prefilter: from each query filter, the literals of which at least one
// must occur in an event's raw JSON text for the filter to match it. One
// Vectorscan database scans whole input blocks for all of them; lines with
// no hit are never parsed, and the results are exactly those of full parsing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "match/expression.h"

struct hs_database;
struct hs_scratch;

namespace pickaxe {

struct Literal {
  std::string text;
  // A text of digits, signs, dots and exponents: a JSON number can carry it in
  // another form (3.333e3), so numbers written that way under `key` are hits too.
  bool numeric = false;
  std::string key;   // the last part of the field's path, for numeric literals
  int strength = 0;  // how rarely it should occur: 0 for ECS vocabulary
};

// The literals one of which any event the filter matches contains in its
// JSON text; none when the filter can match without any (`not`, regex, ranges).
std::optional<std::vector<Literal>> required_literals(const CompiledFilter& filter,
                                                      const FieldIndex& fields);

class Prefilter {
 public:
  // A prefilter for events any of `filters` may match, or null with the
  // reason in `why_not` when some filter has no literals. With
  // `detect_sources`, records of other sources (CloudTrail, Docker, Sysmon
  // JSON) and wrappers (Records, hits) always pass: their values are not ECS.
  static std::shared_ptr<const Prefilter> build(const std::vector<const CompiledFilter*>& filters,
                                                const FieldIndex& fields, bool detect_sources,
                                                std::string* why_not = nullptr);
  ~Prefilter();
  Prefilter(const Prefilter&) = delete;
  Prefilter& operator=(const Prefilter&) = delete;

  size_t literal_count() const { return literals_.size(); }
  const std::vector<std::string>& literals() const { return literals_; }

  // Scans text for hits, with its own scratch space (one per reader).
  class Scanner {
   public:
    explicit Scanner(const Prefilter& prefilter);
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;
    // The offsets of the line ends ('\n', or text.size() for the last line)
    // of the lines of `text` that hold a hit, ascending.
    bool hit_lines(std::string_view text, std::vector<size_t>& line_ends);

   private:
    const Prefilter& prefilter_;
    hs_scratch* scratch_ = nullptr;
  };

 private:
  Prefilter() = default;
  hs_database* database_ = nullptr;
  std::vector<std::string> literals_;
};

}  // namespace pickaxe
