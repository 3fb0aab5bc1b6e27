// Vectorscan databases compiled once per process for the same patterns. A
// serve worker builds the same rule program for every partition it owns, and
// a hunt builds one per rule set: they share each database instead of
// compiling and holding one each. Databases are immutable once compiled, so
// any thread may scan one with scratch space of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct hs_database;

namespace pickaxe {

// One expression (or literal) of a database, as hs_compile_multi takes it.
struct DatabasePattern {
  std::string text;
  unsigned flags = 0;
  unsigned id = 0;
};

class SharedDatabase {
 public:
  SharedDatabase(hs_database* database, uint64_t id) : database_(database), id_(id) {}
  SharedDatabase(const SharedDatabase&) = delete;
  SharedDatabase& operator=(const SharedDatabase&) = delete;
  ~SharedDatabase();
  hs_database* get() const { return database_; }
  // Unique in the process: tells a per-thread scratch which databases it fits.
  uint64_t id() const { return id_; }

 private:
  hs_database* database_;
  uint64_t id_;
};

// The block-mode database of `patterns` (regular expressions, or literals
// when `literal`): compiled at the first call, then shared while anyone
// holds it. Null, with Vectorscan's message in `error`, when it cannot be
// compiled (a failure is not remembered).
std::shared_ptr<const SharedDatabase> shared_database(const std::vector<DatabasePattern>& patterns,
                                                      bool literal, std::string* error = nullptr);

// How many databases this process compiled, and how many times one was
// shared instead (for tests and the bench).
struct SharedDatabaseCounts {
  uint64_t compiled = 0;
  uint64_t shared = 0;
};
SharedDatabaseCounts shared_database_counts();

}  // namespace pickaxe
