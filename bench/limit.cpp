// The parse limit for `make bench`: simdjson's on-demand iterate_many over an
// NDJSON file, only counting the documents. Nothing that reads every event
// can be faster on this machine. The file is read into memory first and only
// the parse is timed: how fast the file is read says more about the machine
// (its page faults) than about parsing. Prints the documents and the seconds
// the parse took.
#include <chrono>
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
  const auto started = std::chrono::steady_clock::now();
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document_stream documents;
  if (parser.iterate_many(json, 1 << 20).get(documents)) return 1;
  size_t count = 0;
  for (auto document : documents) {
    if (document.error()) return 1;
    ++count;
  }
  const std::chrono::duration<double> parse = std::chrono::steady_clock::now() - started;
  std::printf("%zu documents, parsed in %.6f s\n", count, parse.count());
  return 0;
}
