// Compressed input: .gz (zlib, several members allowed) and .zst (zstd)
// files, decompressed as they are read, in blocks: memory stays bounded
// whatever the size of the archive or of what it expands to.
#pragma once

#include <cstdint>
#include <memory>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

enum class Compression { None, Gzip, Zstd };
// By the first bytes: gzip's 1f 8b, zstd's 28 b5 2f fd.
Compression compression_of_bytes(std::string_view head);
// By the file's first bytes; by extension (.gz, .zst) when it has fewer
// than two or cannot be read.
Compression compression_of_file(const std::string& path);

// A stream buffer over a compressed file. When the data is corrupt or cut
// short, what came before it has been read and error() says what went
// wrong and where ("the gzip data ends early, after 1.2 MB").
class DecompressingBuffer : public std::streambuf {
 public:
  // Opens `path`; ok() is false (with error()) when it cannot.
  DecompressingBuffer(const std::string& path, Compression compression);
  // Reads the compressed bytes from `source` (stdin), which must outlive it.
  DecompressingBuffer(std::streambuf& source, Compression compression);
  ~DecompressingBuffer() override;
  DecompressingBuffer(const DecompressingBuffer&) = delete;
  DecompressingBuffer& operator=(const DecompressingBuffer&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  uint64_t decompressed() const { return decompressed_; }

 protected:
  int_type underflow() override;

 private:
  explicit DecompressingBuffer(Compression compression);
  bool fill_input();  // false at the end of the file
  bool inflate_some();
  struct Codec;

  int fd_ = -1;
  std::streambuf* source_ = nullptr;
  bool gzip_ = true;
  std::unique_ptr<Codec> codec_;
  std::vector<char> input_;
  size_t input_pos_ = 0, input_end_ = 0;
  bool input_done_ = false;
  bool stream_end_ = true;  // between gzip members, or zstd frames
  std::vector<char> output_;
  uint64_t decompressed_ = 0;
  std::string error_;
};

}  // namespace pickaxe
