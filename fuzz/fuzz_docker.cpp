// libFuzzer target for the docker decoder: arbitrary bytes as one Docker daemon event, or a file of
// them.
#include "fuzz/fuzz_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return pickaxe::fuzz::fuzz_source(pickaxe::SourceKind::Docker, data, size);
}
