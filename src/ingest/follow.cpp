#include "ingest/follow.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

namespace pickaxe {

namespace {

bool has_glob(const std::string& path) {
  return path.find_first_of("*?[") != std::string::npos;
}

// Rotated logs compressed by logrotate: not lines to follow.
bool compressed(std::string_view name) {
  for (std::string_view suffix : {".gz", ".zst", ".bz2", ".xz", ".zip", ".lz4"})
    if (name.ends_with(suffix)) return true;
  return false;
}

// Whether the file's first bytes are `bytes`.
bool begins_with(int fd, std::string_view bytes) {
  std::string head(bytes.size(), '\0');
  return ::pread(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()) &&
         head == bytes;
}

// The folder inotify must watch to see `path` appear, change or go.
std::string folder_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

FileFollower::FileFollower(std::vector<std::string> paths, bool from_beginning)
    : paths_(std::move(paths)), from_beginning_(from_beginning), buffer_(size_t{1} << 20) {
  inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);  // -1: polling alone
}

FileFollower::~FileFollower() {
  for (auto& [key, file] : files_)
    if (file.fd >= 0) ::close(file.fd);
  if (inotify_ >= 0) ::close(inotify_);
}

FileFollower::Named FileFollower::expand(Problems* problems) const {
  Named found;
  std::set<Identity> seen;
  auto add_if_file = [&](const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        seen.insert({info.st_dev, info.st_ino}).second)
      found.emplace_back(Identity{info.st_dev, info.st_ino}, path);
  };
  for (const std::string& path : paths_) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::vector<std::string> names;
      std::filesystem::directory_iterator entries(path, error);
      if (error && problems)
        problems->emplace_back(path, fmt_error("cannot read the folder", error.value()));
      for (const auto& entry : entries) {
        std::string name = entry.path().filename().string();
        if (!name.empty() && name[0] != '.' && !compressed(name))
          names.push_back(entry.path().string());
      }
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) add_if_file(name);
    } else if (has_glob(path)) {
      glob_t matches{};
      if (::glob(path.c_str(), 0, nullptr, &matches) == 0)
        for (size_t i = 0; i < matches.gl_pathc; ++i) add_if_file(matches.gl_pathv[i]);
      ::globfree(&matches);
    } else {
      add_if_file(path);
    }
  }
  return found;
}

void FileFollower::watch_folders() {
  if (inotify_ < 0) return;
  for (const std::string& path : paths_) {
    std::error_code error;
    std::string folder = std::filesystem::is_directory(path, error) ? path : folder_of(path);
    if (watched_.count(folder)) continue;
    const uint32_t events = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                            IN_CLOSE_WRITE | IN_ATTRIB;
    if (::inotify_add_watch(inotify_, folder.c_str(), events) >= 0) watched_.insert(folder);
  }
}

void FileFollower::open(const Handler& handler, const std::string& path, bool at_end) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (reported_.insert(path).second) handler.problem(path, fmt_error("cannot open", errno));
    return;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return;
  }
  auto key = std::make_pair(info.st_dev, info.st_ino);
  if (files_.count(key)) {  // the same file under another path
    ::close(fd);
    return;
  }
  reported_.erase(path);
  Followed file;
  file.path = path;
  file.fd = fd;
  file.device = info.st_dev;
  file.inode = info.st_ino;
  // Followed before, left, and named again: on from where it was left, if
  // its first bytes are still those read then. Else from its end (there at
  // the start), or from its start, or, a copy, from where its original was.
  if (auto ended = ended_.find(key); ended != ended_.end() &&
                                     ended->second.second <= static_cast<uint64_t>(info.st_size) &&
                                     begins_with(fd, ended->second.first))
    file.offset = ended->second.second;
  else if (at_end)
    file.offset = static_cast<uint64_t>(info.st_size);
  else
    file.offset = copied_offset(handler, path, fd, info.st_size, info.st_ino);
  ended_.erase(key);
  file.id = next_id_++;
  if (file.offset > 0) {  // its first bytes, to see it replaced in place
    file.fingerprint.resize(std::min<uint64_t>(kFingerprintBytes, file.offset));
    ssize_t got = ::pread(fd, file.fingerprint.data(), file.fingerprint.size(), 0);
    file.fingerprint.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  handler.start(file.id, path);
  files_.emplace(key, std::move(file));
}

std::string FileFollower::fmt_error(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

void FileFollower::remember_cut(const std::string& fingerprint, uint64_t offset) {
  if (fingerprint.size() < kFingerprintBytes) return;
  cut_.emplace_back(fingerprint, offset);
  if (cut_.size() > kCutRemembered) cut_.pop_front();
}

uint64_t FileFollower::copied_offset(const Handler& handler, const std::string& path, int fd,
                                     uint64_t size, ino_t inode) {
  std::string head(kFingerprintBytes, '\0');
  if (::pread(fd, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) return 0;
  std::optional<uint64_t> offset;
  for (const auto& [key, file] : files_)
    if (key.second != inode && file.fingerprint == head) offset = file.offset;
  for (auto it = cut_.begin(); !offset && it != cut_.end(); ++it) {
    if (it->first != head) continue;
    offset = it->second;
    cut_.erase(it);
    break;
  }
  if (!offset) return 0;
  handler.problem(path,
                  "a copy of a followed file (copytruncate): read on from where that file was");
  return std::min(*offset, size);
}

void FileFollower::restart(const Handler& handler, Followed& file) {
  remember_cut(file.fingerprint, file.offset);
  handler.end(file.id);
  file.id = next_id_++;
  file.offset = 0;
  file.fingerprint.clear();
  handler.start(file.id, file.path);
}

size_t FileFollower::read_new(const Handler& handler, Followed& file, size_t budget) {
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) return 0;
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  // Cut short, or rewritten from its start: read again from the start.
  const bool replaced = size < file.offset || !begins_with(file.fd, file.fingerprint);
  if (replaced) {
    handler.problem(file.path, "cut short or rewritten: read again from its start");
    restart(handler, file);
  }
  size_t total = 0;
  while (total < budget && file.offset < size) {
    size_t want = std::min<uint64_t>({buffer_.size(), budget - total, size - file.offset});
    ssize_t got = ::pread(file.fd, buffer_.data(), want, static_cast<off_t>(file.offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (file.fingerprint.size() < kFingerprintBytes && file.offset < kFingerprintBytes) {
      size_t take = std::min<size_t>(static_cast<size_t>(got), kFingerprintBytes - file.offset);
      if (file.offset == file.fingerprint.size()) file.fingerprint.append(buffer_.data(), take);
    }
    file.offset += static_cast<uint64_t>(got);
    total += static_cast<size_t>(got);
    handler.bytes(file.id, std::string_view(buffer_.data(), static_cast<size_t>(got)));
  }
  return total;
}

size_t FileFollower::poll(const Handler& handler, size_t budget) {
  watch_folders();
  if (first_poll_) start(handler);
  size_t total = 0;
  const Named in_order = expand();  // what the paths name now
  const std::map<Identity, std::string> named(in_order.begin(), in_order.end());
  const auto now = std::chrono::steady_clock::now();
  // Files followed already: what they gained. One the paths name under
  // another name (rotated within them) goes on under it; one they no longer
  // name (renamed away, deleted) is read for a while longer, as its writer
  // may still add to it, then left.
  for (auto it = files_.begin(); it != files_.end();) {
    Followed& file = it->second;
    const size_t got = read_new(handler, file, budget);
    total += got;
    auto name = named.find(it->first);
    if (name != named.end()) {
      file.path = name->second;
      file.leaving = false;
      ++it;
      continue;
    }
    if (!file.leaving || got > 0) {
      file.leaving = true;
      file.last_growth = now;
    }
    if (now - file.last_growth < kLinger) {
      ++it;
      continue;
    }
    struct stat info {};
    if (::stat(file.path.c_str(), &info) != 0)
      handler.problem(file.path,
                      "gone (deleted, or renamed away): read to its end; followed again if it "
                      "appears");
    remember_ended(file);
    handler.end(file.id);
    ::close(file.fd);
    it = files_.erase(it);
  }
  // Files not followed yet: new, read from their start (or, one followed
  // before that the paths name again, from where it was left).
  for (const auto& [key, path] : in_order) {
    if (files_.count(key)) continue;
    open(handler, path, false);
    auto it = files_.find(key);
    if (it != files_.end()) total += read_new(handler, it->second, budget);
  }
  return total;
}

void FileFollower::remember_ended(const Followed& file) {
  const auto key = std::make_pair(file.device, file.inode);
  if (!ended_.count(key)) ended_order_.push_back(key);
  ended_[key] = {file.fingerprint, file.offset};
  while (ended_order_.size() > kEndedRemembered) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

void FileFollower::start(const Handler& handler) {
  if (!first_poll_) return;
  first_poll_ = false;
  watch_folders();
  Problems problems;
  const Named found = expand(&problems);
  for (const auto& [key, path] : found) open(handler, path, !from_beginning_);
  for (const auto& [path, why] : problems) handler.problem(path, why);
  // Paths that name nothing yet are reported once, then followed when they appear.
  for (const std::string& path : paths_) {
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error);
    if (error && error != std::errc::no_such_file_or_directory)
      handler.problem(path,
                      fmt_error("cannot be looked at", error.value()) + "; followed once it can");
    else if (has_glob(path) && std::none_of(found.begin(), found.end(), [&](const auto& file) {
               return ::fnmatch(path.c_str(), file.second.c_str(), FNM_PATHNAME) == 0;
             }))
      handler.problem(path, "matches no file (yet): files that appear are followed");
    else if (!has_glob(path) && !exists)
      handler.problem(path, "does not exist (yet): followed once it appears");
  }
}

void FileFollower::wait(std::chrono::milliseconds timeout) {
  if (inotify_ < 0) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  pollfd descriptor{inotify_, POLLIN, 0};
  int ready = ::poll(&descriptor, 1, static_cast<int>(timeout.count()));
  if (ready > 0) {  // what changed does not matter: the next poll looks at everything
    char events[4096];
    while (::read(inotify_, events, sizeof(events)) > 0) {
    }
  }
}

std::vector<FileFollower::Position> FileFollower::positions() const {
  std::vector<Position> positions;
  for (const auto& [key, file] : files_)
    positions.push_back({file.id, file.path, static_cast<uint64_t>(file.device),
                         static_cast<uint64_t>(file.inode), file.fingerprint, file.offset});
  return positions;
}

std::vector<uint64_t> FileFollower::restore(const Handler& handler,
                                            const std::vector<Position>& positions) {
  std::vector<uint64_t> ids;
  for (const Position& position : positions) {
    auto same_file = [&](const std::string& path) {
      struct stat info {};
      return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
             static_cast<uint64_t>(info.st_dev) == position.device &&
             static_cast<uint64_t>(info.st_ino) == position.inode;
    };
    std::string path = position.path;
    if (!same_file(path)) {  // rotated while stopped: the same folder, another name
      path.clear();
      std::error_code error;
      for (const auto& entry :
           std::filesystem::directory_iterator(folder_of(position.path), error)) {
        if (same_file(entry.path().string())) {
          path = entry.path().string();
          break;
        }
      }
    }
    int fd = path.empty() ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && !begins_with(fd, position.fingerprint)) {
      ::close(fd);
      fd = -1;
    }
    if (fd < 0) {
      // Cut short (copytruncate): a copy among the paths goes on from here.
      remember_cut(position.fingerprint, position.offset);
      handler.problem(position.path,
                      "gone, or rewritten, while watch was stopped: read again from its start; "
                      "what it gained after the checkpoint is read only from a copy among the "
                      "paths");
      ids.push_back(0);
      continue;
    }
    Followed file;
    file.path = path;
    file.fd = fd;
    file.device = static_cast<dev_t>(position.device);
    file.inode = static_cast<ino_t>(position.inode);
    file.offset = position.offset;
    file.fingerprint = position.fingerprint;
    file.id = next_id_++;
    handler.start(file.id, position.path);
    ids.push_back(file.id);
    files_.emplace(std::make_pair(file.device, file.inode), std::move(file));
  }
  first_poll_ = false;
  return ids;
}

void FileFollower::end_all(const Handler& handler) {
  for (auto& [key, file] : files_) {
    handler.end(file.id);
    ::close(file.fd);
  }
  files_.clear();
}

std::vector<std::pair<std::string, uint64_t>> FileFollower::bytes_behind() const {
  std::vector<std::pair<std::string, uint64_t>> behind;
  for (const auto& [key, file] : files_) {
    struct stat info {};
    uint64_t size = ::fstat(file.fd, &info) == 0 ? static_cast<uint64_t>(info.st_size) : 0;
    behind.emplace_back(file.path, size > file.offset ? size - file.offset : 0);
  }
  return behind;
}

}  // namespace pickaxe
