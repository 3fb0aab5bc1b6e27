// A read-only memory map of a whole file, safe against the file being cut
// short while it is read (logrotate's copytruncate): touching a page past
// the new end raises SIGBUS, which a handler answers by mapping a page of
// zeros there; the reader then sees NUL bytes (reported as malformed) and
// truncated() says the file shrank, instead of the process dying.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pickaxe {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view text() const { return {data_, size_}; }
  // True once a page past the file's end was touched.
  bool truncated() const;
  // Maps the pages under `range` (a part of text()) in with one call, ahead
  // of reading them, instead of a page fault every few pages. Pages it
  // cannot map (past a cut) are left to the faults and the guard.
  void map_in(std::string_view range) const;

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
  int slot_ = -1;  // in the guard's table of mappings
};

// Reading text back out of a mapped file (an alert's document) maps the
// pages around it in again, up to a large folio's worth, and they would stay
// counted in the process until it ends. This lets go of the pages around
// `text`, which must lie in a MappedFile's mapping (else nothing is done);
// they are read from the file again if touched.
void let_go_of_pages_around(std::string_view text);

}  // namespace pickaxe
