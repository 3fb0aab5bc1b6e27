#include "scan/content.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include "scan/yara_set.h"

namespace pickaxe::scan {

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  reset();
}
Sha256::~Sha256() {
  EVP_MD_CTX_free(context_);
}
void Sha256::reset() {
  EVP_DigestInit_ex(context_, EVP_sha256(), nullptr);
}
void Sha256::update(const void* data, size_t size) {
  EVP_DigestUpdate(context_, data, size);
}
std::array<uint8_t, 32> Sha256::finish() {
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_, digest.data(), &length);
  reset();
  return digest;
}

namespace {

constexpr size_t kMaxSectionTable = 1 << 20;

uint64_t read_uint(const uint8_t* at, size_t bytes, bool big_endian) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) {
    const uint64_t byte = at[big_endian ? i : bytes - 1 - i];
    value = (value << 8) | byte;
  }
  return value;
}

const char* machine_name(uint64_t machine) {
  switch (machine) {
    case 2: return "sparc";
    case 3: return "i386";
    case 8: return "mips";
    case 20: return "ppc";
    case 21: return "ppc64";
    case 22: return "s390";
    case 40: return "arm";
    case 43: return "sparcv9";
    case 62: return "x86-64";
    case 183: return "aarch64";
    case 243: return "riscv";
    case 258: return "loongarch";
    default: return "unknown";
  }
}

bool is_elf(const uint8_t* header, size_t size) {
  return size >= 52 &&
         std::memcmp(header,
                     "\x7f"
                     "ELF",
                     4) == 0 &&
         (header[4] == 1 || header[4] == 2) && (header[5] == 1 || header[5] == 2);
}

}  // namespace

ElfFacts elf_facts(const uint8_t* header, size_t header_size, const uint8_t* sections,
                   size_t sections_size, bool sections_complete) {
  ElfFacts facts;
  if (!is_elf(header, header_size)) return facts;
  const bool wide = header[4] == 2;
  const bool big = header[5] == 2;
  if (wide && header_size < 64) return facts;
  facts.present = true;
  facts.header_class = wide ? "ELF64" : "ELF32";
  facts.byte_order = big ? "Big Endian" : "Little Endian";
  switch (read_uint(header + 16, 2, big)) {
    case 1: facts.header_type = "REL"; break;
    case 2: facts.header_type = "EXEC"; break;
    case 3: facts.header_type = "DYN"; break;
    case 4: facts.header_type = "CORE"; break;
    default: facts.header_type = "unknown";
  }
  facts.architecture = machine_name(read_uint(header + 18, 2, big));
  // Stripped: no SHT_SYMTAB (2) section. Without a whole table, say stripped
  // only when there are no sections at all.
  const size_t entry_size = read_uint(header + (wide ? 58 : 46), 2, big);
  const size_t count = read_uint(header + (wide ? 60 : 48), 2, big);
  facts.stripped = true;
  if (sections_complete && entry_size >= 8) {
    for (size_t i = 0; i < count && (i + 1) * entry_size <= sections_size; ++i)
      if (read_uint(sections + i * entry_size + 4, 4, big) == 2) facts.stripped = false;
  }
  return facts;
}

void ContentAnalyzer::begin(uint64_t size) {
  offset_ = 0;
  buffering_ = limits_.yara && size <= limits_.yara_max_size;
  buffer_.clear();
  std::memset(header_, 0, sizeof header_);
  sections_at_ = sections_size_ = 0;
  sections_.clear();
}

void ContentAnalyzer::capture_sections(const uint8_t* data, size_t size) {
  const uint64_t begin = std::max(offset_, sections_at_);
  const uint64_t end = std::min(offset_ + size, sections_at_ + sections_size_);
  if (begin >= end) return;
  const uint64_t into = begin - sections_at_;
  if (sections_.size() < into + (end - begin)) sections_.resize(into + (end - begin));
  std::memcpy(sections_.data() + into, data + (begin - offset_), end - begin);
}

void ContentAnalyzer::update(const uint8_t* data, size_t size) {
  sha256_.update(data, size);
  if (offset_ < sizeof header_) {
    const size_t head = std::min<size_t>(size, sizeof header_ - offset_);
    std::memcpy(header_ + offset_, data, head);
    if (offset_ + head == sizeof header_ && is_elf(header_, sizeof header_)) {
      const bool wide = header_[4] == 2;
      const bool big = header_[5] == 2;
      sections_at_ = read_uint(header_ + (wide ? 40 : 32), wide ? 8 : 4, big);
      sections_size_ = read_uint(header_ + (wide ? 58 : 46), 2, big) *
                       read_uint(header_ + (wide ? 60 : 48), 2, big);
      if (sections_at_ == 0 || sections_size_ > kMaxSectionTable) sections_size_ = 0;
    }
  }
  if (sections_size_ > 0) capture_sections(data, size);
  if (buffering_) buffer_.insert(buffer_.end(), data, data + size);
  offset_ += size;
}

void ContentAnalyzer::finish(FileRecord& record, ScanStats& stats) {
  record.sha256 = sha256_.finish();
  record.hashed = true;
  const bool sections_complete = sections_size_ > 0 && sections_.size() == sections_size_;
  record.elf = elf_facts(header_, std::min<uint64_t>(offset_, sizeof header_), sections_.data(),
                         sections_.size(), sections_complete);
  if (limits_.yara && !buffering_) ++stats.yara_too_large;
}

YaraWorker::YaraWorker(const ScanLimits& limits) : limits_(limits) {
  // Stop signals go to the reading thread, whose blocking reads they interrupt.
  sigset_t stops, before;
  sigemptyset(&stops);
  for (int stop : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stops, stop);
  pthread_sigmask(SIG_BLOCK, &stops, &before);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

YaraWorker::~YaraWorker() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void YaraWorker::submit(LayerTable* table, size_t index, std::vector<uint8_t> content) {
  constexpr size_t kMaxQueued = size_t{16} << 20;
  std::unique_lock lock(mutex_);
  room_.wait(lock, [&] { return jobs_.empty() || queued_bytes_ + content.size() <= kMaxQueued; });
  queued_bytes_ += content.size();
  jobs_.push_back({table, index, std::move(content)});
  lock.unlock();
  work_.notify_one();
}

void YaraWorker::run() {
  static const uint8_t kNothing = 0;
  while (true) {
    std::unique_lock lock(mutex_);
    work_.wait(lock, [&] { return closing_ || !jobs_.empty(); });
    if (jobs_.empty()) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    Result result{job.table, job.index, {}};
    const auto outcome =
        limits_.yara->scan(job.content.empty() ? &kNothing : job.content.data(), job.content.size(),
                           limits_.yara_timeout_seconds, result.matches);
    lock.lock();
    queued_bytes_ -= job.content.size();
    ++scanned_;
    timeouts_ += outcome == YaraSet::Outcome::TimedOut;
    if (!result.matches.empty()) results_.push_back(std::move(result));
    lock.unlock();
    room_.notify_one();
  }
}

void YaraWorker::finish(ScanStats& stats) {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Result& result : results_)
    result.table->files[result.index].yara = std::move(result.matches);
  results_.clear();
  stats.yara_scanned += scanned_;
  stats.yara_timeouts += timeouts_;
  scanned_ = timeouts_ = 0;
}

}  // namespace pickaxe::scan
