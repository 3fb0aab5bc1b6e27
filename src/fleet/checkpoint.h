// A partition's checkpoint in the fleet's state bucket: the stream sequence
// it covers and the hunt's state at that point (Hunter::save). Versioned:
// a worker refuses a checkpoint of another format, build or rule set, and
// says so (the partition then resumes at its sequence with a fresh state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pickaxe::fleet {

struct PartitionCheckpoint {
  uint64_t sequence = 0;  // the last stream sequence whose event is in the state
  std::string rule_set;   // Hunter::rule_set_identity()
  std::string hunt;       // Hunter::save()
  uint64_t dead_letters = 0;
};

std::string encode_checkpoint(const PartitionCheckpoint& checkpoint);
// False, with why, when `in` is not a checkpoint this build can read; its
// sequence (a first line of text) is read whenever that line is whole, 0
// when it is not.
bool decode_checkpoint(std::string_view in, PartitionCheckpoint& checkpoint, std::string& error);

}  // namespace pickaxe::fleet
