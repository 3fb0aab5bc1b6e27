#include "ingest/shared_database.h"

#include <hs/hs.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace pickaxe {

namespace {

std::atomic<uint64_t> next_id{1};

// One input's database: its callers wait for one compile, while other
// inputs compile at the same time.
struct Entry {
  std::mutex compiling;
  std::weak_ptr<const SharedDatabase> database;
};

struct Cache {
  std::mutex mutex;  // guards the map and the counts, never held while compiling
  std::unordered_map<std::string, std::shared_ptr<Entry>> by_input;
  SharedDatabaseCounts counts;
};

Cache& cache() {
  static Cache instance;
  return instance;
}

// Everything the compile reads, as one key.
std::string key_of(const std::vector<DatabasePattern>& patterns, bool literal) {
  std::string key(1, literal ? 'L' : 'E');
  for (const DatabasePattern& pattern : patterns) {
    const uint64_t size = pattern.text.size();
    char header[16];
    std::memcpy(header, &pattern.flags, 4);
    std::memcpy(header + 4, &pattern.id, 4);
    std::memcpy(header + 8, &size, 8);
    key.append(header, sizeof(header));
    key += pattern.text;
  }
  return key;
}

hs_database* compile(const std::vector<DatabasePattern>& patterns, bool literal,
                     std::string* error) {
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  std::vector<unsigned> flags, ids;
  for (const DatabasePattern& pattern : patterns) {
    pointers.push_back(pattern.text.c_str());
    lengths.push_back(pattern.text.size());
    flags.push_back(pattern.flags);
    ids.push_back(pattern.id);
  }
  hs_database* database = nullptr;
  hs_compile_error_t* compile_error = nullptr;
  const unsigned count = static_cast<unsigned>(patterns.size());
  const hs_error_t status =
      literal ? hs_compile_lit_multi(pointers.data(), flags.data(), ids.data(), lengths.data(),
                                     count, HS_MODE_BLOCK, nullptr, &database, &compile_error)
              : hs_compile_multi(pointers.data(), flags.data(), ids.data(), count, HS_MODE_BLOCK,
                                 nullptr, &database, &compile_error);
  if (status != HS_SUCCESS) {
    if (error) *error = compile_error ? compile_error->message : "cannot compile";
    if (compile_error) hs_free_compile_error(compile_error);
    return nullptr;
  }
  return database;
}

}  // namespace

SharedDatabase::~SharedDatabase() {
  if (database_) hs_free_database(database_);
}

std::shared_ptr<const SharedDatabase> shared_database(const std::vector<DatabasePattern>& patterns,
                                                      bool literal, std::string* error) {
  if (patterns.empty()) return nullptr;
  const std::string key = key_of(patterns, literal);
  Cache& shared = cache();
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(shared.mutex);
    std::shared_ptr<Entry>& slot = shared.by_input[key];
    if (!slot) slot = std::make_shared<Entry>();
    entry = slot;
  }
  // A second caller of the same patterns waits for the first one's database
  // instead of compiling its own.
  std::lock_guard compiling(entry->compiling);
  if (std::shared_ptr<const SharedDatabase> database = entry->database.lock()) {
    std::lock_guard lock(shared.mutex);
    ++shared.counts.shared;
    return database;
  }
  hs_database* compiled = compile(patterns, literal, error);
  if (!compiled) return nullptr;
  auto database = std::make_shared<const SharedDatabase>(compiled, next_id++);
  // Written under both locks: read under either.
  std::lock_guard lock(shared.mutex);
  entry->database = database;
  ++shared.counts.compiled;
  // Entries whose databases are gone, and that nobody is compiling, are
  // dropped as new ones come.
  std::erase_if(shared.by_input, [](const auto& item) {
    return item.second.use_count() == 1 && item.second->database.expired();
  });
  return database;
}

SharedDatabaseCounts shared_database_counts() {
  Cache& shared = cache();
  std::lock_guard lock(shared.mutex);
  return shared.counts;
}

}  // namespace pickaxe
