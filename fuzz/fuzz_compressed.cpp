// libFuzzer target for the streamed input paths: the first byte picks
// raw bytes as a .gz or .zst file, the bytes gzip-compressed here (so the
// reader gets them whole), or the bytes inside a JSON array or a CloudTrail
// {"Records": [...]} document that the reader streams element by element.
// Every path goes through QueryStream with a small line cap.
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "correlate/stream.h"
#include "eql/parser.h"
#include "ingest/compressed.h"

using namespace pickaxe;

namespace {

std::string gzip(const std::string& text) {
  std::string out(compressBound(text.size()) + 64, '\0');
  z_stream z{};
  deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void read(std::istream& in) {
  auto source = std::make_shared<SourceFile>(
      "q", "sequence by host.name [process where true] [any where event.action != null]");
  Diagnostics diagnostics(source);
  eql::QuerySet set = eql::parse_query_set(*source, diagnostics);
  Schema schema;
  QueryEngine engine(set.alternatives[0], schema, EngineOptions{});
  StreamOptions options;
  options.reader.max_line_bytes = 4096;
  options.max_buffer_bytes = 1 << 20;
  QueryStream stream(engine, schema, options, nullptr);
  stream.read(in, "fuzz");
  (void)stream.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string payload(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
    case 1:
    case 2: {
      const std::string path =
          "/tmp/pickaxe-fuzz-" + std::to_string(::getpid()) + (data[0] % 5 == 1 ? ".zst" : ".gz");
      std::ofstream(path, std::ios::binary) << (data[0] % 5 == 2 ? gzip(payload) : payload);
      DecompressingBuffer buffer(path, compression_of_file(path));
      if (buffer.ok()) {
        std::istream in(&buffer);
        read(in);
      }
      ::unlink(path.c_str());
      break;
    }
    case 3: {
      std::istringstream in("[" + payload);
      read(in);
      break;
    }
    default: {
      std::istringstream in("{\"Records\": [" + payload);
      read(in);
    }
  }
  return 0;
}
