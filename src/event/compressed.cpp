#include "event/compressed.h"

#include <zlib.h>
#include <zstd.h>

#include <fstream>
#include <iterator>
#include <vector>

namespace pickaxe {

bool is_compressed(const std::string& path) {
  return path.ends_with(".gz") || path.ends_with(".zst");
}

namespace {

std::optional<std::string> gunzip(const std::string& path, std::string& error) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) {
    error = "cannot open the file";
    return std::nullopt;
  }
  std::string out;
  std::vector<char> buffer(1 << 16);
  int n;
  while ((n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0)
    out.append(buffer.data(), n);
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  gzclose(file);
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    error = std::string("corrupt gzip data: ") + (message ? message : "");
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> unzstd(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open the file";
    return std::nullopt;
  }
  std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ZSTD_DCtx* context = ZSTD_createDCtx();
  std::string out;
  std::vector<char> buffer(ZSTD_DStreamOutSize());
  ZSTD_inBuffer input{compressed.data(), compressed.size(), 0};
  size_t last = 0;
  while (input.pos < input.size) {
    ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
    last = ZSTD_decompressStream(context, &output, &input);
    if (ZSTD_isError(last)) {
      error = std::string("corrupt zstd data: ") + ZSTD_getErrorName(last);
      ZSTD_freeDCtx(context);
      return std::nullopt;
    }
    out.append(buffer.data(), output.pos);
  }
  ZSTD_freeDCtx(context);
  if (last != 0) {
    error = "truncated zstd data";
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::string> read_decompressed(const std::string& path, std::string& error) {
  return path.ends_with(".gz") ? gunzip(path, error) : unzstd(path, error);
}

}  // namespace pickaxe
