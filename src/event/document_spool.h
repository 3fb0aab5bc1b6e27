// Documents of events held for long (in partial sequences, samples and
// results) moved out of memory, for inputs that cannot be read again
// (stdin, compressed files): appended to unlinked temporary files of up to
// 64 MiB each, and read back when an alert is written. A file goes away
// (its disk space with it) when no event refers to it any more.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pickaxe {

class SpoolSegment;

// Where one document lies: its segment (kept open while referred to), offset and size.
struct SpooledDocument {
  std::shared_ptr<const SpoolSegment> segment;
  uint64_t offset = 0;
  uint32_t size = 0;
  explicit operator bool() const { return segment != nullptr; }
  // The document; false when it cannot be read back.
  bool read(std::string& out) const;
};

class DocumentSpool {
 public:
  // Segments in `directory` (default: $TMPDIR, else /tmp).
  explicit DocumentSpool(std::string directory = {}, uint64_t segment_bytes = uint64_t{64} << 20);
  // Stores the text; none (and the caller keeps it) when it cannot be
  // written, with the reason in last_error().
  std::optional<SpooledDocument> store(std::string_view text);
  uint64_t stored() const { return stored_; }  // documents
  uint64_t failures() const { return failures_; }
  std::string last_error() const;

 private:
  std::string directory_;
  uint64_t segment_bytes_;
  mutable std::mutex mutex_;
  std::shared_ptr<SpoolSegment> current_;
  uint64_t stored_ = 0, failures_ = 0;
  std::string last_error_;
};

}  // namespace pickaxe
