// libFuzzer target for the auditd decoder: arbitrary bytes as raw audit.log lines (records joined
// by serial).
#include "fuzz/fuzz_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return pickaxe::fuzz::fuzz_source(pickaxe::SourceKind::Auditd, data, size);
}
