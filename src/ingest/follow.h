// Following files as they grow, as `tail -F` and Filebeat do. Each path is a
// file (followed once it exists), a glob, or a folder (its files, without
// dot names, nor compressed ones: .gz, .zst, ...); both are looked at again
// on every poll, so files that appear later are read, from their start. A
// file renamed to another name the paths match goes on under it; one they no
// longer name (rotation by rename and create, deletion) is read until it has
// not grown for 5 s, then left, and the new one is read from its start; a
// file cut short (truncation, copytruncate) or whose first bytes changed is
// read again from its start. inotify wakes the follower where it exists;
// polling covers the rest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

class FileFollower {
 public:
  // One input per file identity: it starts when the file is opened and ends
  // when the file is replaced, cut short, or gone. Ids are never reused.
  struct Handler {
    std::function<void(uint64_t id, const std::string& path)> start;
    std::function<void(uint64_t id, std::string_view bytes)> bytes;
    std::function<void(uint64_t id)> end;
    std::function<void(const std::string& path, const std::string& message)> problem;
  };

  // `from_beginning`: files there at the start are read from their start,
  // not only what is appended to them.
  FileFollower(std::vector<std::string> paths, bool from_beginning);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Opens the files there at the start (at their end, unless
  // from_beginning) without reading them; poll() does it when not called.
  void start(const Handler& handler);
  // Finds files and reads what they gained, at most `budget` bytes from each
  // (memory stays bounded, and no file starves the others). Returns the
  // bytes read.
  size_t poll(const Handler& handler, size_t budget = size_t{1} << 20);
  // Waits until a followed file or folder may have changed (inotify), or
  // `timeout` has passed.
  void wait(std::chrono::milliseconds timeout);
  // Ends every input (at shutdown).
  void end_all(const Handler& handler);
  size_t followed() const { return files_.size(); }

  // Where each followed file is read up to, for a checkpoint.
  struct Position {
    uint64_t id = 0;
    std::string path;
    uint64_t device = 0, inode = 0;
    std::string fingerprint;  // its first bytes
    uint64_t offset = 0;
  };
  std::vector<Position> positions() const;
  // Follows the files of a checkpoint again, each from its offset, before
  // the first poll (files found later are then new: read from their start).
  // A file is found by its path, or, when another file took that name
  // (rotated while stopped), by its identity in the same folder; its first
  // bytes must be the same. Returns the new input id of each position (0:
  // the file is gone, reported).
  std::vector<uint64_t> restore(const Handler& handler, const std::vector<Position>& positions);
  // Per followed file: the bytes it holds past what was read (for metrics).
  std::vector<std::pair<std::string, uint64_t>> bytes_behind() const;

 private:
  struct Followed {
    std::string path;
    int fd = -1;
    dev_t device = 0;
    ino_t inode = 0;
    uint64_t offset = 0;
    uint64_t id = 0;
    std::string fingerprint;  // the file's first bytes, once read
    bool leaving = false;     // the paths no longer name it: read until it stops growing
    std::chrono::steady_clock::time_point last_growth;
  };
  // How long a file the paths no longer name is still read after it last grew.
  static constexpr auto kLinger = std::chrono::seconds(5);
  // Files left, by identity: their first bytes and where reading stopped,
  // so that one named again is not read again from its start.
  void remember_ended(const Followed& file);
  static constexpr size_t kEndedRemembered = 4096;
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, uint64_t>> ended_;
  // Files cut short (copytruncate): their first bytes and where reading had
  // got. A new file starting with the same bytes, or with those of a file
  // followed now, is its copy: read on from there, not again from its start.
  void remember_cut(const std::string& fingerprint, uint64_t offset);
  uint64_t copied_offset(const Handler& handler, const std::string& path, int fd, uint64_t size,
                         ino_t inode);
  static constexpr size_t kCutRemembered = 64;
  std::deque<std::pair<std::string, uint64_t>> cut_;
  std::deque<std::pair<dev_t, ino_t>> ended_order_;
  static constexpr size_t kFingerprintBytes = 64;
  // The regular files the paths name now, in path order, each with its
  // identity (once); folders that cannot be read add (path, why) to `problems`.
  using Identity = std::pair<dev_t, ino_t>;
  using Named = std::vector<std::pair<Identity, std::string>>;
  using Problems = std::vector<std::pair<std::string, std::string>>;
  Named expand(Problems* problems = nullptr) const;
  void open(const Handler& handler, const std::string& path, bool at_end);
  void restart(const Handler& handler, Followed& file);  // from the start, as a new input
  size_t read_new(const Handler& handler, Followed& file, size_t budget);
  void watch_folders();
  static std::string fmt_error(const char* what, int error);

  std::vector<std::string> paths_;
  bool from_beginning_;
  bool first_poll_ = true;
  std::map<std::pair<dev_t, ino_t>, Followed> files_;
  std::set<std::string> reported_;  // paths whose problem was reported (once each)
  uint64_t next_id_ = 1;
  int inotify_ = -1;
  std::set<std::string> watched_;  // folders inotify watches
  std::vector<char> buffer_;
};

}  // namespace pickaxe
