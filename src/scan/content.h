// What a file's bytes say, learnt as they stream past once: sha256, ELF
// header facts, and YARA matches (for files up to a size cap, buffered).
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <string>
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
  // Fills the record's hash, ELF facts and YARA matches.
  void finish(FileRecord& record, ScanStats& stats);

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

}  // namespace pickaxe::scan
