// What a file's bytes say, learnt as they stream past once: sha256 and ELF
// header facts; files up to the YARA size cap are kept for YaraWorker, which
// matches them on a thread of its own while the next ones are read.
#pragma once

#include <openssl/evp.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scan/image.h"

namespace pickaxe::scan {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void reset();
  void update(const void* data, size_t size);
  std::array<uint8_t, 32> finish();

 private:
  EVP_MD_CTX* context_;
};

class ContentAnalyzer {
 public:
  explicit ContentAnalyzer(const ScanLimits& limits) : limits_(limits) {}
  void begin(uint64_t size);
  void update(const uint8_t* data, size_t size);
  // Fills the record's hash and ELF facts.
  void finish(FileRecord& record, ScanStats& stats);
  // After finish: whether the content was kept for YARA (not too large),
  // and the content, taken.
  bool kept() const { return buffering_; }
  std::vector<uint8_t> take_content() { return std::move(buffer_); }

 private:
  void capture_sections(const uint8_t* data, size_t size);
  const ScanLimits& limits_;
  Sha256 sha256_;
  uint64_t offset_ = 0;
  bool buffering_ = false;  // for YARA
  std::vector<uint8_t> buffer_;
  uint8_t header_[64] = {};
  // The ELF section header table, where the header says it is.
  uint64_t sections_at_ = 0, sections_size_ = 0;
  std::vector<uint8_t> sections_;
};

// ELF facts from a file's first bytes and its section header table.
ElfFacts elf_facts(const uint8_t* header, size_t header_size, const uint8_t* sections,
                   size_t sections_size, bool sections_complete);

// YARA matching beside the reading: contents queue (at most 64 MiB of them)
// for one thread; the matches land in the layer tables at finish().
class YaraWorker {
 public:
  explicit YaraWorker(const ScanLimits& limits);
  ~YaraWorker();
  YaraWorker(const YaraWorker&) = delete;
  YaraWorker& operator=(const YaraWorker&) = delete;
  // Matches `content` as the file `index` of `table`; waits while the queue is full.
  void submit(LayerTable* table, size_t index, std::vector<uint8_t> content);
  // Waits for every match, then writes them into their tables.
  void finish(ScanStats& stats);

 private:
  struct Job {
    LayerTable* table;
    size_t index;
    std::vector<uint8_t> content;
  };
  struct Result {
    LayerTable* table;
    size_t index;
    std::vector<uint16_t> matches;
  };
  void run();
  const ScanLimits& limits_;
  std::mutex mutex_;
  std::condition_variable work_, room_;
  std::deque<Job> jobs_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
  std::vector<Result> results_;
  uint64_t scanned_ = 0, timeouts_ = 0;
  std::thread thread_;
};

}  // namespace pickaxe::scan
