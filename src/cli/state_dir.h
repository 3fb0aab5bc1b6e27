// A state folder (--state-dir of watch and ship): one checkpoint file,
// written whole and renamed over the last one, and a lock so that one
// process uses the folder at a time. The checkpoint holds where each input
// was read up to, and the hunt's state (watch's).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "ingest/follow.h"
#include "source/live_input.h"
#include "source/source.h"
#include "util/binary_io.h"
#include "util/output.h"

namespace pickaxe::cli {

constexpr StateHeader kHeader{"PXWS", 2, "watch checkpoint"};

// The checkpoint file: written whole to a temporary, synced, then renamed
// over the last one (and the folder synced), so that a crash at any moment
// leaves one complete checkpoint.
class Checkpoints {
 public:
  explicit Checkpoints(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~Checkpoints() {
    if (lock_ >= 0) ::close(lock_);
  }
  std::string path() const { return (dir_ / "checkpoint").string(); }

  // Creates the folder and takes its lock: one process per state folder.
  bool open(std::string& error) {
    std::error_code code;
    std::filesystem::create_directories(dir_, code);
    lock_ = ::open((dir_ / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_ < 0) {
      error = fmt::format("cannot create {}: {}", (dir_ / "lock").string(), std::strerror(errno));
      return false;
    }
    if (::flock(lock_, LOCK_EX | LOCK_NB) != 0) {
      error = fmt::format("{} is in use by another pickaxe", dir_.string());
      return false;
    }
    return true;
  }
  bool write(std::string_view state, std::string& error) {
    const std::string temporary = (dir_ / "checkpoint.tmp").string();
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      error = fmt::format("cannot write {}: {}", temporary, std::strerror(errno));
      return false;
    }
    std::string why;
    bool ok;
    {
      Output file(fd);  // checked writes
      file.write(state);
      ok = file.flush() && (::fsync(fd) == 0 || (why = std::strerror(errno), false));
      if (file.failed()) why = file.error();
    }
    ::close(fd);
    if (ok && ::rename(temporary.c_str(), path().c_str()) != 0) {
      why = std::strerror(errno);
      ok = false;
    }
    if (!ok) {
      ::unlink(temporary.c_str());
      error = fmt::format("cannot write {}: {}", path(), why);
      return false;
    }
    int folder = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder >= 0) {
      ::fsync(folder);
      ::close(folder);
    }
    return true;
  }

 private:
  std::filesystem::path dir_;
  int lock_ = -1;
};

struct SavedInput {
  FileFollower::Position position;
  uint64_t lines = 0;
  std::string tail;
  bool overlong = false;
  uint64_t overlong_bytes = 0;
  std::optional<SourceKind> kind;  // decided by its first line
  std::string decoder;             // a text source's decoder (open events)
};

// What a checkpoint holds besides the hunt's own state.
struct Checkpoint {
  std::string hunt;
  uint64_t output_length = 0;
  std::vector<SavedInput> inputs;
};

// Where each followed input was read up to, with its partial line and its
// text decoder's open events.
inline std::vector<SavedInput> save_inputs(
    const FileFollower& follower, const std::map<uint64_t, std::unique_ptr<LiveInput>>& inputs) {
  std::vector<SavedInput> saved;
  for (const FileFollower::Position& position : follower.positions()) {
    const LiveInput& input = *inputs.at(position.id);
    SavedInput one{position,   input.lines, input.tail, input.overlong, input.overlong_bytes,
                   input.kind, {}};
    if (input.decoder) input.decoder->save(one.decoder);
    saved.push_back(std::move(one));
  }
  return saved;
}

// Follows a checkpoint's files again from their positions; `restore_decoder`
// sets each input's source and decoder state (false: damaged). Returns the
// name of an input whose state is damaged, nullopt when all were restored.
inline std::optional<std::string> restore_inputs(
    FileFollower& follower, const FileFollower::Handler& handler,
    const std::vector<SavedInput>& saved,
    const std::map<uint64_t, std::unique_ptr<LiveInput>>& inputs,
    const std::function<bool(uint64_t id, LiveInput&, const SavedInput&)>& restore_decoder) {
  std::vector<FileFollower::Position> positions;
  for (const SavedInput& input : saved) positions.push_back(input.position);
  std::vector<uint64_t> ids = follower.restore(handler, positions);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == 0) continue;
    LiveInput& input = *inputs.at(ids[i]);
    input.lines = saved[i].lines;
    input.tail = saved[i].tail;
    input.overlong = saved[i].overlong;
    input.overlong_bytes = saved[i].overlong_bytes;
    if (saved[i].kind && !restore_decoder(ids[i], input, saved[i])) return input.name;
  }
  return std::nullopt;
}

inline std::string encode(const Checkpoint& checkpoint) {
  std::string out;
  kHeader.put(out);
  put_bytes(out, checkpoint.hunt);
  put(out, checkpoint.output_length);
  put(out, static_cast<uint64_t>(checkpoint.inputs.size()));
  for (const SavedInput& input : checkpoint.inputs) {
    const FileFollower::Position& position = input.position;
    put_bytes(out, position.path);
    put(out, position.device);
    put(out, position.inode);
    put_bytes(out, position.fingerprint);
    put(out, position.offset);
    put(out, input.lines);
    put_bytes(out, input.tail);
    put(out, static_cast<uint8_t>(input.overlong));
    put(out, input.overlong_bytes);
    put(out, static_cast<uint8_t>(input.kind ? static_cast<uint8_t>(*input.kind) + 1 : 0));
    put_bytes(out, input.decoder);
  }
  return out;
}

inline bool decode(std::string_view in, Checkpoint& checkpoint, std::string& error) {
  if (!kHeader.get(in, &error)) return false;
  BinaryReader reader(in);
  uint64_t inputs = 0;
  bool ok = reader.bytes(checkpoint.hunt) && reader.get(checkpoint.output_length) &&
            reader.count(inputs, 48);
  for (uint64_t i = 0; ok && i < inputs; ++i) {
    SavedInput input;
    FileFollower::Position& position = input.position;
    uint8_t overlong = 0, kind = 0;
    ok = reader.bytes(position.path) && reader.get(position.device) && reader.get(position.inode) &&
         reader.bytes(position.fingerprint) && reader.get(position.offset) &&
         reader.get(input.lines) && reader.bytes(input.tail) && reader.get(overlong) &&
         reader.get(input.overlong_bytes) && reader.get(kind) &&
         kind <= static_cast<uint8_t>(SourceKind::Sysmon) + 1 && reader.bytes(input.decoder);
    input.overlong = overlong != 0;
    if (kind > 0) input.kind = static_cast<SourceKind>(kind - 1);
    checkpoint.inputs.push_back(std::move(input));
  }
  if (!ok || !reader.at_end()) {
    error = fmt::format("damaged at byte {}", reader.failed_at() + StateHeader::kSize);
    return false;
  }
  return true;
}

inline std::string read_whole(const std::string& path, bool& exists) {
  std::ifstream in(path, std::ios::binary);
  exists = static_cast<bool>(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace pickaxe::cli
