#include "fleet/checkpoint.h"

#include <fmt/format.h>

#include "util/binary_io.h"

namespace pickaxe::fleet {

namespace {

constexpr StateHeader kHeader{"PXFC", 1, "fleet checkpoint"};

// The states inside are written as values lie in memory: only a build of
// the same layout reads them.
std::string build_identity() {
  return fmt::format("{}-{}-{}", sizeof(void*), sizeof(long), __BYTE_ORDER__);
}

}  // namespace

std::string encode_checkpoint(const PartitionCheckpoint& checkpoint) {
  std::string out;
  kHeader.put(out);
  put(out, checkpoint.sequence);
  put_bytes(out, build_identity());
  put_bytes(out, checkpoint.rule_set);
  put(out, checkpoint.dead_letters);
  put_bytes(out, checkpoint.hunt);
  return out;
}

bool decode_checkpoint(std::string_view in, PartitionCheckpoint& checkpoint, std::string& error) {
  if (!kHeader.get(in, &error)) return false;
  BinaryReader reader(in);
  std::string build;
  if (!reader.get(checkpoint.sequence) || !reader.bytes(build)) {
    error = fmt::format("damaged at byte {}", reader.failed_at() + StateHeader::kSize);
    return false;
  }
  if (build != build_identity()) {
    error = fmt::format("written by a build of another layout ({}, this one {})", build,
                        build_identity());
    return false;
  }
  if (!reader.bytes(checkpoint.rule_set) || !reader.get(checkpoint.dead_letters) ||
      !reader.bytes(checkpoint.hunt) || !reader.at_end()) {
    error = fmt::format("damaged at byte {}", reader.failed_at() + StateHeader::kSize);
    return false;
  }
  return true;
}

}  // namespace pickaxe::fleet
