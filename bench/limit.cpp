// The parse limit for `make bench`: simdjson's on-demand iterate_many over an
// NDJSON file, only counting the documents. Nothing that reads every event
// can be faster on this machine. The file is read into memory first and only
// the parse is timed: how fast the file is read says more about the machine
// (its page faults) than about parsing. simdjson may run its first stage
// ahead on a thread of its own (its default, kept here: the limit is the
// fastest simdjson parse). With THREADS, the file is cut into that many
// line-aligned parts, each parsed on exactly one thread (no thread of
// simdjson's own): THREADS 1 against 2 says how well the machine's cores
// scale on the parse alone. Prints the documents and the seconds the parse
// took.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

#include <simdjson.h>

namespace {

// The documents of `part`, or -1 on a parse error. Past its end lie the next
// part's bytes or the padded string's padding: simdjson may read them.
long count_documents(std::string_view part, bool threaded) {
  if (part.empty()) return 0;
  simdjson::ondemand::parser parser;
  parser.threaded = threaded;
  simdjson::ondemand::document_stream documents;
  if (parser.iterate_many(reinterpret_cast<const uint8_t*>(part.data()), part.size(), 1 << 20)
          .get(documents))
    return -1;
  long count = 0;
  for (auto document : documents) {
    if (document.error()) return -1;
    ++count;
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc == 3 ? std::atoi(argv[2]) : 1;
  if (argc < 2 || argc > 3 || threads < 1) {
    std::fprintf(stderr, "usage: pickaxe_limit FILE.ndjson [THREADS]\n");
    return 2;
  }
  simdjson::padded_string json;
  if (simdjson::padded_string::load(argv[1]).get(json)) {
    std::fprintf(stderr, "pickaxe_limit: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::string_view text(json.data(), json.size());
  std::vector<size_t> cuts{0};
  for (int t = 1; t < threads; ++t) {
    const size_t newline = text.find('\n', std::max(cuts.back(), text.size() / threads * t));
    cuts.push_back(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  cuts.push_back(text.size());
  std::vector<long> counts(threads, 0);
  const auto started = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        counts[t] = count_documents(text.substr(cuts[t], cuts[t + 1] - cuts[t]), argc == 2);
      });
  }
  const std::chrono::duration<double> parse = std::chrono::steady_clock::now() - started;
  long count = 0;
  for (long part : counts) {
    if (part < 0) return 1;
    count += part;
  }
  std::printf("%ld documents, parsed in %.6f s\n", count, parse.count());
  return 0;
}
