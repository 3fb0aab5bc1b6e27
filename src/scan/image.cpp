#include "scan/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

#include "scan/content.h"
#include "util/signals.h"

namespace pickaxe::scan {

std::string hex(const std::array<uint8_t, 32>& digest) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    text[2 * i] = kDigits[digest[i] >> 4];
    text[2 * i + 1] = kDigits[digest[i] & 15];
  }
  return text;
}

std::optional<std::string> normalise_path(std::string_view raw) {
  std::vector<std::string_view> parts;
  size_t at = 0;
  while (at <= raw.size()) {
    size_t end = raw.find('/', at);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view part = raw.substr(at, end - at);
    at = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string path;
  for (std::string_view part : parts) path.append("/").append(part);
  return path.empty() ? "/" : path;
}

namespace {

constexpr size_t kChunk = size_t{1} << 20;
// Entries (files, links, whiteouts) one input may hold: their tables are kept.
constexpr uint64_t kMaxEntries = 4'000'000;
// Stands for "layer sha256:<digest>" in a layer's problems until the digest is known.
constexpr std::string_view kLayerMark =
    "\x1e"
    "layer";

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// The bytes of one member of the input, in order.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The next bytes: > 0 of them at *data; 0 at the end; -1 on an error.
  virtual ssize_t next(const void** data) = 0;
  virtual std::string error() const = 0;
};

class ArchiveMemberSource : public ByteSource {
 public:
  ArchiveMemberSource(archive* outer, std::vector<uint8_t>& buffer)
      : outer_(outer), buffer_(buffer) {}
  ssize_t next(const void** data) override {
    const la_ssize_t got = archive_read_data(outer_, buffer_.data(), buffer_.size());
    *data = buffer_.data();
    return got < 0 ? -1 : got;
  }
  std::string error() const override {
    const char* text = archive_error_string(outer_);
    return text ? text : "unreadable";
  }

 private:
  archive* outer_;
  std::vector<uint8_t>& buffer_;
};

class FileSource : public ByteSource {
 public:
  FileSource(int fd, std::vector<uint8_t>& buffer) : fd_(fd), buffer_(buffer) {}
  ssize_t next(const void** data) override {
    ssize_t got;
    do got = ::read(fd_, buffer_.data(), buffer_.size());
    while (got < 0 && errno == EINTR);
    if (got < 0) errno_ = errno;
    *data = buffer_.data();
    return got;
  }
  std::string error() const override { return std::strerror(errno_); }

 private:
  int fd_;
  int errno_ = 0;
  std::vector<uint8_t>& buffer_;
};

class InputReader {
 public:
  InputReader(ImageInput& input, const ScanLimits& limits)
      : input_(input),
        limits_(limits),
        analyzer_(limits),
        outer_buffer_(kChunk),
        inner_buffer_(kChunk) {
    if (limits.yara) yara_ = std::make_unique<YaraWorker>(limits);
  }

  // Every YARA match in its table; hard links take their target's.
  void finish() {
    if (!yara_) return;
    yara_->finish(input_.stats);
    for (const HardLink& link : hard_links_)
      link.table->files[link.link].yara = link.table->files[link.target].yara;
  }

  // Reads the members of a tarball; false when the input must stop.
  void read_archive(archive* outer) {
    archive_entry* entry = nullptr;
    while (!input_.ended_early) {
      const int status = archive_read_next_header(outer, &entry);
      if (status == ARCHIVE_EOF) break;
      if (status < ARCHIVE_WARN) {
        const char* why = archive_error_string(outer);
        const bool empty = input_.blobs.empty() && archive_filter_bytes(outer, -1) <= 0;
        input_.problems.push_back(
            empty ? std::string("empty: not an image")
            : input_.blobs.empty() && outer_unpacked(outer) < 1024
                ? fmt::format("not an image: not a tar archive ({})", why ? why : "unreadable")
                : fmt::format("the archive is cut short or damaged after {}: {}",
                              input_.blobs.empty() ? "its start" : input_.blobs.back().name,
                              why ? why : "unreadable"));
        input_.ended_early = true;
        break;
      }
      if (archive_entry_filetype(entry) != AE_IFREG) continue;
      const char* path = archive_entry_pathname(entry);
      std::optional<std::string> name = normalise_path(path ? path : "");
      if (!name) {
        input_.problems.push_back(fmt::format(
            "member '{}' climbs out of the archive: skipped (nothing is extracted)", path));
        continue;
      }
      ArchiveMemberSource source(outer, outer_buffer_);
      read_blob(name->substr(1), static_cast<uint64_t>(archive_entry_size(entry)), source,
                [&] { return outer_unpacked(outer); });
    }
  }

  void read_folder(const std::filesystem::path& folder) {
    std::vector<std::filesystem::path> files;
    std::error_code error;
    for (auto it = std::filesystem::recursive_directory_iterator(folder, error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error))
      if (it->is_regular_file(error)) files.push_back(it->path());
    if (error)
      input_.problems.push_back(fmt::format("cannot list the folder: {}", error.message()));
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (input_.ended_early) break;
      const std::string name = file.lexically_relative(folder).generic_string();
      const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        input_.problems.push_back(fmt::format("{}: cannot open: {}", name, std::strerror(errno)));
        continue;
      }
      FileSource source(fd, outer_buffer_);
      std::error_code size_error;
      read_blob(name, std::filesystem::file_size(file, size_error), source, [] { return 0; });
      ::close(fd);
    }
  }

 private:
  static uint64_t outer_unpacked(archive* outer) {
    const la_int64_t bytes = archive_filter_bytes(outer, 0);
    return bytes > 0 ? static_cast<uint64_t>(bytes) : 0;
  }

  // The read callback of a layer's archive: the member's bytes, hashed as
  // they pass.
  struct LayerFeed {
    ByteSource* source;
    Sha256* raw_hash;
    const void* first = nullptr;  // the bytes read to tell the kind
    ssize_t first_size = 0;
    bool source_failed = false;
  };
  static la_ssize_t feed_layer(archive*, void* user, const void** data) {
    auto* feed = static_cast<LayerFeed*>(user);
    ssize_t got;
    if (feed->first) {
      *data = feed->first;
      got = feed->first_size;
      feed->first = nullptr;
    } else {
      got = feed->source->next(data);
      if (got < 0) {
        feed->source_failed = true;
        return ARCHIVE_FATAL;
      }
      if (got > 0) feed->raw_hash->update(*data, got);
    }
    return got;
  }

  void read_blob(const std::string& name, uint64_t size, ByteSource& source,
                 const std::function<uint64_t()>& outer_unpacked) {
    Blob blob;
    blob.name = name;
    blob.size = size;
    Sha256 raw_hash;
    const size_t first_problem = input_.problems.size();
    const void* first = nullptr;
    ssize_t first_size = source.next(&first);
    if (first_size < 0) {
      input_.problems.push_back(fmt::format("{}: cannot be read: {}", name, source.error()));
      input_.ended_early = true;
      return;
    }
    if (first_size > 0) raw_hash.update(first, first_size);
    const auto* bytes = static_cast<const char*>(first);
    size_t lead = 0;
    while (lead < static_cast<size_t>(first_size) && (bytes[lead] == ' ' || bytes[lead] == '\n' ||
                                                      bytes[lead] == '\r' || bytes[lead] == '\t'))
      ++lead;
    const bool json_like =
        lead < static_cast<size_t>(first_size) && (bytes[lead] == '{' || bytes[lead] == '[');
    bool source_failed = false;
    if (json_like && size <= limits_.max_json_bytes) {
      blob.kind = Blob::Kind::Json;
      blob.json.assign(bytes, first_size);
      const void* more = nullptr;
      for (ssize_t got; (got = source.next(&more)) != 0;) {
        if (got < 0) {
          source_failed = true;
          break;
        }
        raw_hash.update(more, got);
        if (blob.json.size() + got > limits_.max_json_bytes) {
          input_.problems.push_back(
              fmt::format("{}: JSON larger than {} bytes: not read", name, limits_.max_json_bytes));
          blob.kind = Blob::Kind::Other;
          blob.json.clear();
          blob.json.shrink_to_fit();
          drain(source, raw_hash, source_failed);
          break;
        }
        blob.json.append(static_cast<const char*>(more), got);
      }
    } else if (first_size > 0) {
      LayerFeed feed{&source, &raw_hash, first, first_size};
      read_layer(blob, feed, outer_unpacked);
      source_failed = feed.source_failed;
      if (!source_failed && !input_.ended_early) drain(source, raw_hash, source_failed);
    }
    blob.sha256 = hex(raw_hash.finish());
    for (size_t i = first_problem; i < input_.problems.size(); ++i)
      if (input_.problems[i].starts_with(kLayerMark))
        input_.problems[i].replace(0, kLayerMark.size(), "layer sha256:" + blob.sha256);
    if (source_failed) {
      input_.problems.push_back(fmt::format(
          "{}: the archive is cut short or damaged in this member: {}", name, source.error()));
      input_.ended_early = true;
      if (blob.layer) blob.layer->complete = false;
    } else if (name.starts_with("blobs/sha256/") && name.size() == 13 + 64 &&
               name.substr(13) != blob.sha256 && !input_.ended_early) {
      input_.problems.push_back(fmt::format(
          "{}: digest mismatch: its content hashes to sha256:{}, not the sha256:{} its name "
          "promises: the blob was altered or damaged",
          name, blob.sha256, name.substr(13)));
    }
    input_.blobs.push_back(std::move(blob));
  }

  static void drain(ByteSource& source, Sha256& hash, bool& failed) {
    const void* data = nullptr;
    for (ssize_t got; (got = source.next(&data)) != 0;) {
      if (got < 0) {
        failed = true;
        return;
      }
      hash.update(data, got);
    }
  }

  bool over_cap(uint64_t outer_bytes) const {
    return outer_bytes + input_.stats.unpacked_bytes > limits_.max_unpacked;
  }

  void read_layer(Blob& blob, LayerFeed& feed, const std::function<uint64_t()>& outer_unpacked) {
    archive* inner = archive_read_new();
    archive_read_support_filter_all(inner);
    archive_read_support_format_tar(inner);
    archive_read_open(inner, &feed, nullptr, feed_layer, nullptr);
    auto table = std::make_shared<LayerTable>();
    layer_files_.clear();
    archive_entry* entry = nullptr;
    uint64_t entries = 0;
    uint64_t counted = 0;  // of this layer, already in stats.unpacked_bytes
    auto count_unpacked = [&] {
      const la_int64_t now = archive_filter_bytes(inner, 0);
      if (now > 0 && static_cast<uint64_t>(now) > counted) {
        input_.stats.unpacked_bytes += now - counted;
        counted = now;
      }
    };
    auto bomb = [&] {
      input_.problems.push_back(fmt::format(
          "{}: the input expands past --max-unpacked ({} bytes) in this layer: a decompression "
          "bomb? The rest of the input is not read",
          blob.name, limits_.max_unpacked));
      input_.ended_early = true;
      table->complete = false;
    };
    while (true) {
      const int status = archive_read_next_header(inner, &entry);
      count_unpacked();
      if (status == ARCHIVE_EOF) break;
      if (status < ARCHIVE_WARN) {
        const char* why = archive_error_string(inner);
        if (entries == 0 && !feed.source_failed) {
          // Not a tar archive, plain or compressed: some other blob.
          blob.kind = Blob::Kind::Other;
          blob.not_a_layer = why ? why : "not a tar archive";
          archive_read_free(inner);
          return;
        }
        table->complete = false;
        if (!feed.source_failed)
          input_.problems.push_back(
              fmt::format("{}: layer cut short or damaged after {} entries: {}", blob.name, entries,
                          why ? why : "unreadable"));
        break;
      }
      ++entries;
      if (stop_requested()) {
        input_.stopped = input_.ended_early = true;
        table->complete = false;
        break;
      }
      if (++entry_count_ > kMaxEntries) {
        input_.problems.push_back(
            fmt::format("{}: the input holds more than {} entries: the rest is not read", blob.name,
                        kMaxEntries));
        input_.ended_early = true;
        table->complete = false;
        break;
      }
      if (over_cap(outer_unpacked())) {
        bomb();
        break;
      }
      if (!read_entry(blob, *table, inner, entry, counted, outer_unpacked)) {
        if (input_.ended_early) {
          if (!feed.source_failed && !input_.stopped) bomb();
        } else {
          table->complete = false;
        }
        break;
      }
    }
    archive_read_free(inner);
    blob.kind = Blob::Kind::Layer;
    blob.layer = std::move(table);
  }

  // One member of a layer; false when the layer cannot go on.
  bool read_entry(const Blob& blob, LayerTable& table, archive* inner, archive_entry* entry,
                  uint64_t& counted, const std::function<uint64_t()>& outer_unpacked) {
    const char* raw = archive_entry_pathname(entry);
    const std::string raw_path = raw ? raw : "";
    std::optional<std::string> path = normalise_path(raw_path);
    if (!path) {
      input_.problems.push_back(
          fmt::format("{}: entry '{}' climbs out of the image root: skipped (nothing is extracted)",
                      kLayerMark, raw_path));
      return true;
    }
    const std::string base = path->substr(path->rfind('/') + 1);
    if (base.starts_with(".wh.")) {
      if (base == ".wh..wh..opq")
        table.opaque_dirs.push_back(parent_of(*path));
      else
        table.whiteouts.push_back((parent_of(*path) == "/" ? "" : parent_of(*path)) + "/" +
                                  base.substr(4));
      return true;
    }
    const mode_t type = archive_entry_filetype(entry);
    const char* hard_link = archive_entry_hardlink(entry);
    FileRecord record;
    record.path = *path;
    record.mode = archive_entry_perm(entry) & 07777;
    record.uid = archive_entry_uid(entry);
    record.gid = archive_entry_gid(entry);
    if (const char* owner = archive_entry_uname(entry)) record.owner = owner;
    if (const char* group = archive_entry_gname(entry)) record.group = group;
    if (hard_link) {
      std::optional<std::string> target = normalise_path(hard_link);
      if (!target) {
        input_.problems.push_back(fmt::format(
            "{}: hard link '{}' names '{}', which climbs out of the image root: skipped",
            kLayerMark, raw_path, hard_link));
        return true;
      }
      record.type = FileRecord::Type::HardLink;
      record.target = *target;
      // A hard link is its target's content: the target came earlier in the layer
      // (its YARA matches are copied once they are known, in finish()).
      if (auto found = layer_files_.find(record.target); found != layer_files_.end()) {
        const FileRecord& target_file = table.files[found->second];
        record.size = target_file.size;
        record.hashed = target_file.hashed;
        record.sha256 = target_file.sha256;
        record.elf = target_file.elf;
        hard_links_.push_back({&table, table.files.size(), found->second});
        layer_files_[record.path] = found->second;  // a link to this link: the same file
      } else {
        input_.problems.push_back(fmt::format(
            "{}: hard link '{}' names '{}', which is no file earlier in its layer: kept "
            "without size or hash",
            kLayerMark, raw_path, hard_link));
      }
    } else if (type == AE_IFLNK) {
      record.type = FileRecord::Type::Symlink;
      if (const char* target = archive_entry_symlink(entry)) record.target = target;
    } else if (type == AE_IFREG) {
      record.size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
      analyzer_.begin(record.size);
      uint64_t read = 0;
      while (true) {
        const la_ssize_t got = archive_read_data(inner, inner_buffer_.data(), inner_buffer_.size());
        if (got == 0) break;
        if (got < 0) {
          const char* why = archive_error_string(inner);
          input_.problems.push_back(fmt::format("{}: entry '{}' cut short or damaged: {}",
                                                blob.name, raw_path, why ? why : "unreadable"));
          return false;
        }
        if (stop_requested()) {
          input_.stopped = input_.ended_early = true;
          return false;
        }
        analyzer_.update(inner_buffer_.data(), got);
        read += got;
        // Sparse members expand beyond what the stream holds: count what is read.
        const la_int64_t stream = archive_filter_bytes(inner, 0);
        const uint64_t seen = std::max<uint64_t>(stream > 0 ? stream : 0, counted + got);
        input_.stats.unpacked_bytes += seen - counted;
        counted = seen;
        if (over_cap(outer_unpacked())) {
          input_.ended_early = true;
          return false;
        }
      }
      // A sparse member's trailing hole is not in its data: it reads as zeros.
      if (archive_entry_sparse_count(entry) > 0 && read < record.size) {
        std::fill(inner_buffer_.begin(), inner_buffer_.end(), 0);
        while (read < record.size) {
          const size_t hole = std::min<uint64_t>(record.size - read, inner_buffer_.size());
          analyzer_.update(inner_buffer_.data(), hole);
          read += hole;
          input_.stats.unpacked_bytes += hole;
          counted += hole;
          if (over_cap(outer_unpacked())) {
            input_.ended_early = true;
            return false;
          }
        }
      }
      record.size = read;
      analyzer_.finish(record, input_.stats);
      if (yara_ && analyzer_.kept())
        yara_->submit(&table, table.files.size(), analyzer_.take_content());
    } else {
      table.non_files.push_back(*path);  // folders, devices, FIFOs: no content to scan
      return true;
    }
    ++input_.stats.files;
    if (record.type == FileRecord::Type::File) layer_files_[record.path] = table.files.size();
    table.files.push_back(std::move(record));
    return true;
  }

  ImageInput& input_;
  const ScanLimits& limits_;
  ContentAnalyzer analyzer_;
  std::unique_ptr<YaraWorker> yara_;
  std::vector<uint8_t> outer_buffer_, inner_buffer_;
  uint64_t entry_count_ = 0;
  // This layer's regular files by path, for its hard links.
  std::unordered_map<std::string, size_t> layer_files_;
  struct HardLink {
    LayerTable* table;
    size_t link, target;  // indexes in table->files
  };
  std::vector<HardLink> hard_links_;
};

// The outer tarball from a file or stdin. A stop signal interrupts a read
// that waits (a pipe, a FIFO): it ends the input instead of waiting on.
struct FdReader {
  int fd;
  std::vector<uint8_t> buffer;
  uint64_t total = 0;
  static la_ssize_t read(archive* outer, void* user, const void** data) {
    auto* self = static_cast<FdReader*>(user);
    while (true) {
      const ssize_t got = ::read(self->fd, self->buffer.data(), self->buffer.size());
      if (got >= 0) {
        *data = self->buffer.data();
        self->total += got;
        return got;
      }
      if (errno == EINTR && !stop_requested()) continue;
      archive_set_error(outer, errno, "%s",
                        errno == EINTR ? "stopped by a signal" : std::strerror(errno));
      return -1;
    }
  }
};

// `raw_bytes`: how many bytes of the input were read.
void read_tarball(ImageInput& input, const ScanLimits& limits,
                  const std::function<int(archive*)>& open,
                  const std::function<uint64_t()>& raw_bytes) {
  archive* outer = archive_read_new();
  archive_read_support_filter_all(outer);
  archive_read_support_format_tar(outer);
  if (open(outer) != ARCHIVE_OK) {
    const std::string why =
        archive_error_string(outer) ? archive_error_string(outer) : "unreadable";
    if (raw_bytes() == 0)
      input.problems.push_back("empty: not an image");
    else if (why.find("runcated") != std::string::npos)
      input.problems.push_back(fmt::format("cut short: {}", why));
    else
      input.problems.push_back(fmt::format(
          "not an image: neither a tar archive (plain, gzip or zstd) nor an OCI layout folder "
          "({}); `docker save IMAGE -o FILE.tar` or `skopeo copy docker://IMAGE oci:FOLDER` "
          "writes one",
          why));
    input.ended_early = true;
  } else {
    InputReader reader(input, limits);
    reader.read_archive(outer);
    reader.finish();
  }
  archive_read_free(outer);
}

}  // namespace

ImageInput read_image_input(const std::string& name, const ScanLimits& limits) {
  ImageInput input;
  input.name = name;
  std::error_code error;
  if (name != "-" && std::filesystem::is_directory(name, error)) {
    InputReader reader(input, limits);
    reader.read_folder(name);
    reader.finish();
    return input;
  }
  const int fd = name == "-" ? STDIN_FILENO : ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    input.problems.push_back(fmt::format("cannot open: {}", std::strerror(errno)));
    input.ended_early = true;
    return input;
  }
  FdReader reader{fd, std::vector<uint8_t>(kChunk)};
  read_tarball(
      input, limits,
      [&reader](archive* outer) {
        return archive_read_open(outer, &reader, nullptr, FdReader::read, nullptr);
      },
      [&reader] { return reader.total; });
  if (fd != STDIN_FILENO) ::close(fd);
  return input;
}

ImageInput read_image_memory(const std::string& name, std::string_view bytes,
                             const ScanLimits& limits) {
  ImageInput input;
  input.name = name;
  read_tarball(
      input, limits,
      [bytes](archive* outer) {
        return archive_read_open_memory(outer, bytes.data(), bytes.size());
      },
      [bytes] { return static_cast<uint64_t>(bytes.size()); });
  return input;
}

// ---------------------------------------------------------------- manifests

namespace {

using simdjson::dom::element;

std::string text_at(element object, std::string_view key) {
  std::string_view text;
  if (object[key].get(text) == simdjson::SUCCESS) return std::string(text);
  return "";
}

// "nginx:1.25" -> "1.25"; "" for "nginx", "host:5000/app" or "app@sha256:...".
std::string tag_of(const std::string& reference) {
  const std::string name = reference.substr(0, reference.find('@'));
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "";
  return name.substr(colon + 1);
}

class Resolver {
 public:
  Resolver(ImageInput& input, std::string platform)
      : input_(input), platform_(std::move(platform)) {
    for (size_t i = 0; i < input_.blobs.size(); ++i) by_name_[input_.blobs[i].name] = i;
  }

  void run() {
    if (const Blob* index = find("index.json"); index && index->kind == Blob::Kind::Json) {
      element root;
      if (!parse(*index, root)) return;
      simdjson::dom::array manifests;
      if (root["manifests"].get(manifests) != simdjson::SUCCESS) {
        problem("index.json: no \"manifests\" array: not an OCI image layout");
        return;
      }
      for (element descriptor : manifests) follow(descriptor, "", 0);
      return;
    }
    if (const Blob* manifest = find("manifest.json");
        manifest && manifest->kind == Blob::Kind::Json) {
      docker_ = true;
      read_docker_manifest(*manifest);
      return;
    }
    for (const char* name : {"index.json", "manifest.json"})
      if (find(name)) {
        problem(fmt::format("{}: not JSON: the image cannot be read", name));
        return;
      }
    if (input_.blobs.empty()) return;  // said already: empty, or no archive
    if (input_.ended_early)
      problem(
          "the input ended before its manifest (index.json or manifest.json): nothing was "
          "scanned");
    else
      problem(
          "holds neither index.json nor manifest.json: not a docker save tarball or an OCI "
          "image layout");
  }

 private:
  const Blob* find(const std::string& name) const {
    auto found = by_name_.find(name);
    return found == by_name_.end() ? nullptr : &input_.blobs[found->second];
  }
  static std::string blob_name(const std::string& digest) {
    const size_t colon = digest.find(':');
    if (colon == std::string::npos) return digest;
    return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
  }
  void problem(std::string text) { input_.problems.push_back(std::move(text)); }

  bool parse(const Blob& blob, element& root) {
    parsed_.push_back(std::make_unique<simdjson::dom::parser>());
    if (parsed_.back()->parse(blob.json).get(root) != simdjson::SUCCESS) {
      problem(fmt::format("{}: not valid JSON", blob.name));
      return false;
    }
    return true;
  }

  // A blob the manifests need, said when it is missing.
  const Blob* need(const std::string& name, const std::string& what) {
    const Blob* blob = find(name);
    if (!blob)
      problem(input_.ended_early
                  ? fmt::format("{} {} was not read: the input ended before it", what, name)
                  : fmt::format("{} {} is named by {} but missing from the input", what, name,
                                what == "manifest" ? "index.json"
                                : docker_          ? "manifest.json"
                                                   : "its manifest"));
    return blob;
  }

  bool platform_wanted(const std::string& platform) {
    if (platform_.empty()) return true;
    if (platform == platform_ || platform.starts_with(platform_ + "/")) return true;
    input_.platforms_passed_over.push_back(platform);
    return false;
  }

  void follow(element descriptor, const std::string& inherited_name, int depth) {
    if (depth > 4) {
      problem("index.json: image indexes nested more than 4 deep: not followed");
      return;
    }
    const std::string digest = text_at(descriptor, "digest");
    std::string name = inherited_name;
    element annotations;
    if (descriptor["annotations"].get(annotations) == simdjson::SUCCESS) {
      if (text_at(annotations, "vnd.docker.reference.type") == "attestation-manifest") return;
      std::string full = text_at(annotations, "io.containerd.image.name");
      std::string ref = text_at(annotations, "org.opencontainers.image.ref.name");
      // An OCI ref.name may be a whole reference, or only a tag.
      const bool only_tag = ref.find_first_of("/:@") == std::string::npos;
      if (!full.empty())
        name = full;
      else if (!ref.empty() && !only_tag)
        name = ref;
      else if (!ref.empty() && name.empty())
        name = ":" + ref;
    }
    std::string platform;
    element platform_object;
    if (descriptor["platform"].get(platform_object) == simdjson::SUCCESS) {
      platform = text_at(platform_object, "os") + "/" + text_at(platform_object, "architecture");
      if (std::string variant = text_at(platform_object, "variant"); !variant.empty())
        platform += "/" + variant;
      if (platform == "unknown/unknown") return;
    }
    const Blob* blob = need(blob_name(digest), "manifest");
    if (!blob) return;
    element root;
    if (blob->kind != Blob::Kind::Json || !parse(*blob, root)) {
      if (blob->kind != Blob::Kind::Json)
        problem(fmt::format("{}: not a JSON manifest", blob->name));
      return;
    }
    simdjson::dom::array children;
    if (root["manifests"].get(children) == simdjson::SUCCESS) {
      for (element child : children) follow(child, name, depth + 1);
      return;
    }
    Image image;
    image.manifest_digest = digest;
    if (name.starts_with(':'))
      image.tags.push_back(name);  // a tag without a repository: named by its config digest
    else
      image.reference = name;
    element config;
    if (root["config"].get(config) != simdjson::SUCCESS) {
      problem(fmt::format("{}: a manifest without \"config\"", blob->name));
      return;
    }
    image.config_digest = text_at(config, "digest");
    simdjson::dom::array layers;
    if (root["layers"].get(layers) == simdjson::SUCCESS)
      for (element layer : layers) {
        const std::string layer_digest = text_at(layer, "digest");
        image.layers.push_back({layer_digest, blob_name(layer_digest), nullptr});
      }
    finish(std::move(image), platform, {});
  }

  void read_docker_manifest(const Blob& manifest) {
    element root;
    if (!parse(manifest, root)) return;
    simdjson::dom::array entries;
    if (root.get(entries) != simdjson::SUCCESS) {
      problem("manifest.json: not an array: not a docker save manifest");
      return;
    }
    for (element entry : entries) {
      Image image;
      const std::string config_name = text_at(entry, "Config");
      const Blob* config = need(config_name, "config");
      if (!config) continue;
      image.config_digest = "sha256:" + config->sha256;
      simdjson::dom::array tags;
      if (entry["RepoTags"].get(tags) == simdjson::SUCCESS)
        for (element tag : tags) {
          std::string_view text;
          if (tag.get(text) == simdjson::SUCCESS) image.tags.emplace_back(text);
        }
      if (!image.tags.empty()) image.reference = image.tags.front();
      simdjson::dom::array layers;
      if (entry["Layers"].get(layers) == simdjson::SUCCESS)
        for (element layer : layers) {
          std::string_view name;
          if (layer.get(name) != simdjson::SUCCESS) continue;
          const Blob* blob = find(std::string(name));
          image.layers.push_back(
              {blob ? "sha256:" + blob->sha256 : "", std::string(name), nullptr});
        }
      finish(std::move(image), "", config_name);
    }
  }

  void finish(Image image, std::string platform, const std::string& config_name) {
    const Blob* config =
        need(config_name.empty() ? blob_name(image.config_digest) : config_name, "config");
    if (!config) return;
    if (config->kind != Blob::Kind::Json) {
      problem(fmt::format("{}: the image config is not JSON", config->name));
      return;
    }
    image.config = config->json;
    element root;
    if (!parse(*config, root)) return;
    if (platform.empty()) {
      platform = text_at(root, "os") + "/" + text_at(root, "architecture");
      if (std::string variant = text_at(root, "variant"); !variant.empty())
        platform += "/" + variant;
    }
    image.platform = platform;
    if (!platform_wanted(platform)) return;
    if (image.reference.empty()) image.reference = image.config_digest;
    // Tags: RepoTags' (each name:tag), else the reference's, when it has one.
    if (image.tags.empty() && image.reference != image.config_digest)
      image.tags.push_back(image.reference);
    std::vector<std::string> tags;
    for (const std::string& tagged : image.tags)
      if (std::string tag = tag_of(tagged); !tag.empty()) tags.push_back(tag);
    image.tags = std::move(tags);
    // Legacy docker save layers are plain tar: their sha256 is the config's diff_id.
    std::vector<std::string> diff_ids;
    simdjson::dom::array ids;
    if (root["rootfs"]["diff_ids"].get(ids) == simdjson::SUCCESS)
      for (element id : ids) {
        std::string_view text;
        if (id.get(text) == simdjson::SUCCESS) diff_ids.emplace_back(text);
      }
    for (size_t i = 0; i < image.layers.size(); ++i) {
      ImageLayer& layer = image.layers[i];
      const Blob* blob = need(layer.blob, "layer");
      if (!blob) continue;
      if (blob->kind != Blob::Kind::Layer) {
        problem(fmt::format("{}: the manifest names it as a layer, but it is not a tar archive: {}",
                            blob->name, blob->not_a_layer.empty() ? "JSON" : blob->not_a_layer));
        continue;
      }
      layer.digest = "sha256:" + blob->sha256;
      layer.table = blob->layer.get();
      const bool legacy = !layer.blob.starts_with("blobs/");
      if (legacy && i < diff_ids.size() && diff_ids[i] != layer.digest && !input_.ended_early)
        problem(fmt::format(
            "{}: digest mismatch: the layer hashes to {}, but the config's diff_id is {}: the "
            "layer was altered or damaged",
            layer.blob, layer.digest, diff_ids[i]));
    }
    input_.images.push_back(std::move(image));
  }

  ImageInput& input_;
  std::string platform_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsed_;
  bool docker_ = false;  // read from manifest.json (docker save), not index.json
};

}  // namespace

void resolve_images(ImageInput& input, const std::string& platform) {
  Resolver(input, platform).run();
}

std::vector<StackedFile> stack_layers(const Image& image) {
  std::vector<StackedFile> files;
  // Path -> the visible file's index in `files`.
  std::map<std::string_view, size_t> visible;
  auto hide_under = [&](const std::string& folder, FileState state, bool folder_itself) {
    const std::string prefix = folder == "/" ? "/" : folder + "/";
    if (folder_itself)
      if (auto it = visible.find(folder); it != visible.end()) {
        files[it->second].state = state;
        visible.erase(it);
      }
    for (auto it = visible.lower_bound(prefix);
         it != visible.end() && it->first.starts_with(prefix);) {
      files[it->second].state = state;
      it = visible.erase(it);
    }
  };
  for (uint32_t layer = 0; layer < image.layers.size(); ++layer) {
    const LayerTable* table = image.layers[layer].table;
    if (!table) continue;
    for (const std::string& dir : table->opaque_dirs) hide_under(dir, FileState::Deleted, false);
    for (const std::string& path : table->whiteouts) hide_under(path, FileState::Deleted, true);
    // A folder (or device, FIFO) where a lower layer had a file replaces it.
    for (const std::string& path : table->non_files)
      if (auto it = visible.find(path); it != visible.end()) {
        files[it->second].state = FileState::Replaced;
        visible.erase(it);
      }
    for (const FileRecord& record : table->files) {
      if (auto it = visible.find(record.path); it != visible.end()) {
        files[it->second].state = FileState::Replaced;
        visible.erase(it);
      }
      // A file where a lower layer had a folder replaces the folder's contents.
      hide_under(record.path, FileState::Replaced, false);
      visible[record.path] = files.size();
      files.push_back({&record, layer, FileState::Present});
    }
  }
  std::stable_sort(files.begin(), files.end(), [](const StackedFile& a, const StackedFile& b) {
    return a.record->path < b.record->path;
  });
  return files;
}

}  // namespace pickaxe::scan
