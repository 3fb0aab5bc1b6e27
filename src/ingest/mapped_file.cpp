#include "ingest/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <mutex>

namespace pickaxe {

namespace {

// The mappings the SIGBUS handler may repair. A slot is claimed by storing
// its start last and freed by clearing it first, so the handler only reads
// complete entries.
constexpr int kSlots = 1024;
struct Guarded {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> truncated{false};
};
Guarded guarded[kSlots];
std::once_flag installed;
struct sigaction previous {};

extern "C" void on_bus_error(int signal, siginfo_t* info, void* context) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Guarded& slot : guarded) {
    uintptr_t begin = slot.begin.load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= slot.end.load(std::memory_order_relaxed))
      continue;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    void* at = reinterpret_cast<void*>(address & ~(page - 1));
    // Zeros where the file no longer is; the faulting read then completes.
    if (::mmap(at, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      slot.truncated.store(true, std::memory_order_relaxed);
      return;
    }
  }
  // Not a guarded mapping: what SIGBUS would have done.
  ::sigaction(SIGBUS, &previous, nullptr);
  (void)context;
  ::raise(signal);
}

void install_guard() {
  struct sigaction action {};
  action.sa_sigaction = on_bus_error;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  ::sigaction(SIGBUS, &action, &previous);
}

}  // namespace

MappedFile::MappedFile(const std::string& path) {
  // Not even opened unless a plain file: opening a FIFO would let its writer
  // go on, to write into a pipe that this reader then closes (EPIPE).
  struct stat kind {};
  if (::stat(path.c_str(), &kind) != 0 || !S_ISREG(kind.st_mode)) return;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat status {};
  if (::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size > 0) {
    void* data =
        ::mmap(nullptr, static_cast<size_t>(status.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (data != MAP_FAILED) {
      std::call_once(installed, install_guard);
      for (int i = 0; i < kSlots && slot_ < 0; ++i) {
        uintptr_t expected = 0;
        // Claimed with a placeholder, published once its end is set.
        if (guarded[i].begin.compare_exchange_strong(expected, 1)) {
          guarded[i].truncated.store(false);
          guarded[i].end.store(reinterpret_cast<uintptr_t>(data) + status.st_size);
          guarded[i].begin.store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
          slot_ = i;
        }
      }
      if (slot_ < 0) {
        ::munmap(data, static_cast<size_t>(status.st_size));  // no guard: not mapped
      } else {
        data_ = static_cast<const char*>(data);
        size_ = static_cast<size_t>(status.st_size);
        ::madvise(data, size_, MADV_SEQUENTIAL);
      }
    }
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (!data_) return;
  guarded[slot_].begin.store(0, std::memory_order_release);
  ::munmap(const_cast<char*>(data_), size_);
}

void let_go_of_pages_around(std::string_view text) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(text.data());
  for (const Guarded& slot : guarded) {
    const uintptr_t begin = slot.begin.load(std::memory_order_acquire);
    const uintptr_t end = slot.end.load(std::memory_order_relaxed);
    if (begin <= 1 || at < begin || at >= end) continue;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    constexpr uintptr_t kAround = uintptr_t{2} << 20;  // the largest folio a fault maps
    uintptr_t from = at - begin > kAround ? at - kAround : begin;
    uintptr_t to = std::min<uintptr_t>(end, at + text.size() + kAround);
    from = from & ~(page - 1);
    to = to & ~(page - 1);  // the last, partial page of the file stays
    if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    return;
  }
}

void MappedFile::map_in(std::string_view range) const {
#ifndef MADV_POPULATE_READ
  constexpr int MADV_POPULATE_READ = 22;  // Linux 5.14; older kernels say EINVAL
#endif
  if (range.empty() || range.data() < data_ || range.data() + range.size() > data_ + size_) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t from = reinterpret_cast<uintptr_t>(range.data()) & ~(page - 1);
  const uintptr_t to = reinterpret_cast<uintptr_t>(range.data() + range.size());
  ::madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_READ);  // a hint: may fail
}

bool MappedFile::truncated() const {
  return slot_ >= 0 && guarded[slot_].truncated.load(std::memory_order_relaxed);
}

}  // namespace pickaxe
