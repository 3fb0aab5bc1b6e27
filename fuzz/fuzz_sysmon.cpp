// libFuzzer target for the sysmon decoder: arbitrary bytes as Sysmon for Linux syslog lines with
// the <Event> XML.
#include "fuzz/fuzz_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return pickaxe::fuzz::fuzz_source(pickaxe::SourceKind::Sysmon, data, size);
}
