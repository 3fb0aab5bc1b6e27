#include "fleet/checkpoint.h"

#include <charconv>

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
  // The sequence comes first, as text: a worker that cannot read the rest
  // (another version or build) still knows where the partition stands.
  std::string out = fmt::format("{}\n", checkpoint.sequence);
  kHeader.put(out);
  put_bytes(out, build_identity());
  put_bytes(out, checkpoint.rule_set);
  put(out, checkpoint.dead_letters);
  put_bytes(out, checkpoint.hunt);
  return out;
}

bool decode_checkpoint(std::string_view in, PartitionCheckpoint& checkpoint, std::string& error) {
  const size_t newline = in.find('\n');
  const std::string_view number = in.substr(0, newline);
  auto [end, failed] =
      std::from_chars(number.data(), number.data() + number.size(), checkpoint.sequence);
  if (newline == std::string_view::npos || number.empty() || failed != std::errc() ||
      end != number.data() + number.size()) {
    checkpoint.sequence = 0;
    error = "damaged: it does not start with its stream sequence";
    return false;
  }
  in.remove_prefix(newline + 1);
  const size_t front = newline + 1;
  if (!kHeader.get(in, &error)) return false;
  BinaryReader reader(in);
  std::string build;
  if (!reader.bytes(build)) {
    error = fmt::format("damaged at byte {}", front + reader.failed_at() + StateHeader::kSize);
    return false;
  }
  if (build != build_identity()) {
    error = fmt::format("written by a build of another layout ({}, this one {})", build,
                        build_identity());
    return false;
  }
  if (!reader.bytes(checkpoint.rule_set) || !reader.get(checkpoint.dead_letters) ||
      !reader.bytes(checkpoint.hunt) || !reader.at_end()) {
    error = fmt::format("damaged at byte {}", front + reader.failed_at() + StateHeader::kSize);
    return false;
  }
  return true;
}

}  // namespace pickaxe::fleet
