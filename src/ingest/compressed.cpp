#include "ingest/compressed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace pickaxe {

Compression compression_of_bytes(std::string_view head) {
  if (head.starts_with("\x1f\x8b")) return Compression::Gzip;
  if (head.starts_with("\x28\xb5\x2f\xfd")) return Compression::Zstd;
  return Compression::None;
}

Compression compression_of_file(const std::string& path) {
  const Compression by_name = path.ends_with(".gz")    ? Compression::Gzip
                              : path.ends_with(".zst") ? Compression::Zstd
                                                       : Compression::None;
  // The first bytes decide (a plain log named .gz is plain); a file that
  // cannot be looked at goes by its name, and says why when it is read.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return by_name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return by_name;
  char head[4];
  ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n < 2) return by_name;
  return compression_of_bytes(std::string_view(head, static_cast<size_t>(n)));
}

struct DecompressingBuffer::Codec {
  z_stream zlib{};
  bool zlib_ready = false;
  ZSTD_DCtx* zstd = nullptr;
  ~Codec() {
    if (zlib_ready) inflateEnd(&zlib);
    if (zstd) ZSTD_freeDCtx(zstd);
  }
};

namespace {
constexpr size_t kInput = 64 * 1024;
constexpr size_t kOutput = 256 * 1024;

std::string megabytes(uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}
}  // namespace

DecompressingBuffer::DecompressingBuffer(const std::string& path, Compression compression)
    : DecompressingBuffer(compression) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) error_ = fmt::format("cannot open the file ({})", std::strerror(errno));
}

DecompressingBuffer::DecompressingBuffer(std::streambuf& source, Compression compression)
    : DecompressingBuffer(compression) {
  source_ = &source;
}

DecompressingBuffer::DecompressingBuffer(Compression compression)
    : gzip_(compression == Compression::Gzip),
      codec_(std::make_unique<Codec>()),
      input_(kInput),
      output_(kOutput) {
  if (gzip_) {
    // 15 + 32: a gzip or zlib header, told apart by the data.
    if (inflateInit2(&codec_->zlib, 15 + 32) != Z_OK) {
      error_ = "cannot start zlib";
      return;
    }
    codec_->zlib_ready = true;
  } else {
    codec_->zstd = ZSTD_createDCtx();
  }
  setg(output_.data(), output_.data(), output_.data());
}

DecompressingBuffer::~DecompressingBuffer() {
  if (fd_ >= 0) ::close(fd_);
}

bool DecompressingBuffer::fill_input() {
  if (input_pos_ < input_end_) return true;
  if (input_done_) return false;
  while (true) {
    ssize_t n = source_ ? static_cast<ssize_t>(source_->sgetn(
                              input_.data(), static_cast<std::streamsize>(input_.size())))
                        : ::read(fd_, input_.data(), input_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = fmt::format("cannot read the file ({}) after {} decompressed", std::strerror(errno),
                           megabytes(decompressed_));
      input_done_ = true;
      return false;
    }
    input_pos_ = 0;
    input_end_ = static_cast<size_t>(n);
    if (n == 0) input_done_ = true;
    return n > 0;
  }
}

// Decompresses into the output buffer; false when nothing more will come.
bool DecompressingBuffer::inflate_some() {
  const char* kind = gzip_ ? "gzip" : "zstd";
  while (ok()) {
    if (!fill_input()) {
      if (ok() && !stream_end_)
        error_ = fmt::format("the {} data ends early, after {} decompressed", kind,
                             megabytes(decompressed_));
      return false;
    }
    size_t produced = 0;
    if (gzip_) {
      z_stream& z = codec_->zlib;
      if (stream_end_ && input_pos_ < input_end_) {
        if (decompressed_ > 0 || z.total_in > 0) inflateReset(&z);  // the next member
        stream_end_ = false;
      }
      z.next_in = reinterpret_cast<Bytef*>(input_.data() + input_pos_);
      z.avail_in = static_cast<uInt>(input_end_ - input_pos_);
      z.next_out = reinterpret_cast<Bytef*>(output_.data());
      z.avail_out = static_cast<uInt>(output_.size());
      int code = inflate(&z, Z_NO_FLUSH);
      input_pos_ = input_end_ - z.avail_in;
      produced = output_.size() - z.avail_out;
      if (code == Z_STREAM_END) {
        stream_end_ = true;
      } else if (code != Z_OK && code != Z_BUF_ERROR) {
        error_ = fmt::format("corrupt gzip data after {} decompressed ({})",
                             megabytes(decompressed_), z.msg ? z.msg : "no reason given");
        return false;
      }
    } else {
      ZSTD_inBuffer in{input_.data(), input_end_, input_pos_};
      ZSTD_outBuffer out{output_.data(), output_.size(), 0};
      size_t code = ZSTD_decompressStream(codec_->zstd, &out, &in);
      if (ZSTD_isError(code)) {
        error_ = fmt::format("corrupt zstd data after {} decompressed ({})",
                             megabytes(decompressed_), ZSTD_getErrorName(code));
        return false;
      }
      input_pos_ = in.pos;
      produced = out.pos;
      stream_end_ = code == 0;
    }
    if (produced > 0) {
      decompressed_ += produced;
      setg(output_.data(), output_.data(), output_.data() + produced);
      return true;
    }
  }
  return false;
}

DecompressingBuffer::int_type DecompressingBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (!inflate_some()) return traits_type::eof();
  return traits_type::to_int_type(*gptr());
}

}  // namespace pickaxe
