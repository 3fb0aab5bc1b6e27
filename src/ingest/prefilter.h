// The prefilter's scanner: one Vectorscan database of the literals the rule
// set's filters need (match/literals.h derives them), scanned over whole
// input blocks; lines with no hit are never parsed, and the results are
// exactly those of full parsing.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cstdint>

struct hs_database;
struct hs_scratch;

namespace pickaxe {

class SharedDatabase;

// The literals found on one line: their ids, and whether a trigger (an
// escape, a number in another spelling, another source's record) hit, which
// makes every literal possible.
struct LineHits {
  std::vector<uint32_t> literals;
  bool any_possible = false;
};

class Prefilter {
 public:
  // Per group, per filter: literal-id clauses, every one of which must have
  // a hit on a line for the filter to match it; no clause: no constraint.
  using Clauses = std::vector<std::vector<uint32_t>>;
  // Takes sorted, case-folded literals, with triggers for JSON escapes,
  // numbers in other spellings under `numeric_keys`, and (with
  // `detect_sources`) other sources' records. The Vectorscan database is
  // compiled when a scanner first needs it: an input that scanning would not
  // pay for never needs it (see Scanner::worth_scanning).
  static std::shared_ptr<const Prefilter> compile(std::vector<std::string> literals,
                                                  std::vector<std::string> numeric_keys,
                                                  bool detect_sources, bool skips_lines,
                                                  std::vector<std::vector<Clauses>> group_filters);
  ~Prefilter();
  Prefilter(const Prefilter&) = delete;
  Prefilter& operator=(const Prefilter&) = delete;

  const std::vector<std::string>& literals() const { return literals_; }
  // Per group, per filter, its clauses. When lines are skipped, each filter has one clause, its
  // rarest set; when they are not (some filter has no literals), every clause it has, which chooses
  // engines more sharply.
  const std::vector<Clauses>& group_filters(size_t group) const { return group_filters_[group]; }
  // Every filter has literals: a line with no hit can be skipped unparsed.
  bool skips_lines() const { return skips_lines_; }

  // Scans text for hits, with its own scratch space (one per reader).
  class Scanner {
   public:
    explicit Scanner(const Prefilter& prefilter);
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;
    // The hits in `text`, each with the end of its line ('\n', or
    // text.size() for the last line), ordered by line end. A trigger hit
    // has the id kTrigger. False when the scan failed.
    static constexpr uint32_t kTrigger = UINT32_MAX;
    struct Hit {
      size_t line_end;
      uint32_t id;
    };
    bool scan(std::string_view text, std::vector<Hit>& hits);
    // Whether scanning pays on input that starts with `sample` (whole lines):
    // when too few of its lines could be skipped, parsing every line costs
    // less than scanning them all. Only how lines are read changes, never
    // what is found.
    bool worth_scanning(std::string_view sample);

   private:
    bool prepare();  // compiles the database and allocates scratch space, once
    const Prefilter& prefilter_;
    hs_scratch* scratch_ = nullptr;
  };

 private:
  Prefilter() = default;
  hs_database* database() const;  // compiled on first use; null when it cannot be
  std::vector<std::string> expressions_;
  std::vector<unsigned> flags_;
  mutable std::once_flag compile_once_;
  mutable std::shared_ptr<const SharedDatabase> database_;
  // The literals most filters need: a line holding one as written is a hit,
  // so they bound from below how many lines scanning would hit.
  std::vector<std::string> common_;
  std::vector<std::string> literals_;
  std::vector<std::vector<Clauses>> group_filters_;
  bool skips_lines_ = false;
};

}  // namespace pickaxe
