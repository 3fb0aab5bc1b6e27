#include "ingest/follow.h"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace pickaxe {

namespace {

bool has_glob(const std::string& path) {
  return path.find_first_of("*?[") != std::string::npos;
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

std::vector<std::string> FileFollower::expand() const {
  std::vector<std::string> found;
  auto add_if_file = [&](const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) found.push_back(path);
  };
  for (const std::string& path : paths_) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::vector<std::string> names;
      for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
        std::string name = entry.path().filename().string();
        if (!name.empty() && name[0] != '.') names.push_back(entry.path().string());
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
  file.offset = at_end ? static_cast<uint64_t>(info.st_size) : 0;
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

void FileFollower::restart(const Handler& handler, Followed& file) {
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
  bool replaced = size < file.offset;
  if (!replaced && !file.fingerprint.empty()) {
    std::string head(file.fingerprint.size(), '\0');
    ssize_t got = ::pread(file.fd, head.data(), head.size(), 0);
    replaced = got != static_cast<ssize_t>(head.size()) || head != file.fingerprint;
  }
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
  size_t total = 0;
  // Files followed already: what they gained; then whether their path still
  // names them. One that another file replaced, or that is gone, ends once
  // read to its end.
  for (auto it = files_.begin(); it != files_.end();) {
    Followed& file = it->second;
    size_t got = read_new(handler, file, budget);
    total += got;
    struct stat info {};
    bool same = ::stat(file.path.c_str(), &info) == 0 && info.st_dev == file.device &&
                info.st_ino == file.inode;
    struct stat own {};
    bool drained = ::fstat(file.fd, &own) == 0 && static_cast<uint64_t>(own.st_size) <= file.offset;
    if (!same && drained) {
      handler.end(file.id);
      ::close(file.fd);
      it = files_.erase(it);
      continue;
    }
    ++it;
  }
  // Files not followed yet. Those there at the first poll start at their
  // end unless from_beginning; later ones are new, read from their start.
  for (const std::string& path : expand()) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) continue;
    if (files_.count({info.st_dev, info.st_ino})) continue;
    open(handler, path, first_poll_ && !from_beginning_);
    auto it = files_.find({info.st_dev, info.st_ino});
    if (it != files_.end()) total += read_new(handler, it->second, budget);
  }
  // Paths that name nothing yet are reported once, then followed when they appear.
  if (first_poll_) {
    for (const std::string& path : paths_) {
      std::error_code error;
      if (!has_glob(path) && !std::filesystem::exists(path, error))
        handler.problem(path, "does not exist (yet): followed once it appears");
    }
  }
  first_poll_ = false;
  return total;
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

void FileFollower::end_all(const Handler& handler) {
  for (auto& [key, file] : files_) {
    handler.end(file.id);
    ::close(file.fd);
  }
  files_.clear();
}

uint64_t FileFollower::bytes_behind() const {
  uint64_t behind = 0;
  for (const auto& [key, file] : files_) {
    struct stat info {};
    if (::fstat(file.fd, &info) == 0 && static_cast<uint64_t>(info.st_size) > file.offset)
      behind += static_cast<uint64_t>(info.st_size) - file.offset;
  }
  return behind;
}

}  // namespace pickaxe
