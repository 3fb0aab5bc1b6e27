// The parse limit for `make bench`: simdjson's on-demand iterate_many over an
// NDJSON file, only counting the documents. Nothing that reads every event
// can be faster on this machine.
#include <cstdio>

#include <simdjson.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pickaxe_limit FILE.ndjson\n");
    return 2;
  }
  simdjson::padded_string json;
  if (simdjson::padded_string::load(argv[1]).get(json)) {
    std::fprintf(stderr, "pickaxe_limit: cannot read %s\n", argv[1]);
    return 1;
  }
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document_stream documents;
  if (parser.iterate_many(json, 1 << 20).get(documents)) return 1;
  size_t count = 0;
  for (auto document : documents) {
    if (document.error()) return 1;
    ++count;
  }
  std::printf("%zu\n", count);
  return 0;
}
