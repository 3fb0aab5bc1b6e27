// libFuzzer target for the cloudtrail decoder: arbitrary bytes as one AWS CloudTrail record, or a
// file of them.
#include "fuzz/fuzz_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return pickaxe::fuzz::fuzz_source(pickaxe::SourceKind::CloudTrail, data, size);
}
