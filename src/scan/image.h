// Container images read offline: docker save tarballs and OCI image layouts
// (folder or tarball, plain, gzip or zstd), streamed once through libarchive.
// Nothing is extracted: each layer leaves a table of its files (metadata,
// sha256, ELF facts, YARA matches), and the manifests say how the layers
// stack into each platform's image.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe::scan {

class YaraSet;

struct ScanLimits {
  uint64_t max_unpacked = uint64_t{64} << 30;    // bytes one input may expand to
  uint64_t max_json_bytes = uint64_t{16} << 20;  // a larger manifest or config is not read
  uint64_t yara_max_size = uint64_t{32} << 20;   // larger files are not YARA-scanned
  int yara_timeout_seconds = 10;
  const YaraSet* yara = nullptr;  // null: no content matching
};

struct ElfFacts {
  bool present = false;
  std::string architecture;  // x86-64, aarch64, ...
  std::string header_class;  // ELF32, ELF64
  std::string header_type;   // EXEC, DYN, REL, CORE
  std::string byte_order;    // Little Endian, Big Endian
  bool stripped = true;      // no symbol table section
};

struct FileRecord {
  enum class Type : uint8_t { File, Symlink, HardLink };
  std::string path;    // absolute, normalised
  std::string target;  // symlink text, or the path a hard link names
  Type type = Type::File;
  uint32_t mode = 0;
  uint64_t size = 0;
  uint64_t uid = 0, gid = 0;
  std::string owner, group;
  bool hashed = false;
  std::array<uint8_t, 32> sha256{};
  ElfFacts elf;
  std::vector<uint16_t> yara;  // rule numbers of the YaraSet
};

// One layer's changes: files, and what it hides below it.
struct LayerTable {
  std::vector<FileRecord> files;
  std::vector<std::string> whiteouts;    // paths a .wh. entry deletes
  std::vector<std::string> opaque_dirs;  // folders whose lower contents are hidden
  std::vector<std::string> non_files;    // folders, devices, FIFOs: each replaces a lower file
  bool complete = true;                  // false: cut short (reported)
};

// One file of the input (a tarball member, or a file of a layout folder).
struct Blob {
  enum class Kind : uint8_t { Json, Layer, Other };
  std::string name;    // path inside the input: blobs/sha256/<hex>, manifest.json, ...
  std::string sha256;  // of its bytes, hex
  uint64_t size = 0;
  Kind kind = Kind::Other;
  std::string json;  // Kind::Json
  std::shared_ptr<LayerTable> layer;
  std::string not_a_layer;  // Kind::Other: why it did not read as a tar archive
};

struct ImageLayer {
  std::string digest;                 // sha256:<hex> of the blob
  std::string blob;                   // its name in the input
  const LayerTable* table = nullptr;  // null: missing (reported)
};

// One image (one platform of an index) as the manifests describe it.
struct Image {
  std::string reference;  // name:tag, or the config digest when the input names none
  std::vector<std::string> tags;
  std::string platform;  // os/arch[/variant]
  std::string manifest_digest, config_digest;
  std::string config;  // its JSON text
  std::vector<ImageLayer> layers;
};

struct ScanStats {
  uint64_t unpacked_bytes = 0;  // layer bytes after decompression
  uint64_t files = 0;           // regular files and links read
  uint64_t yara_scanned = 0, yara_too_large = 0, yara_timeouts = 0;
  ScanStats& operator+=(const ScanStats& other) {
    unpacked_bytes += other.unpacked_bytes;
    files += other.files;
    yara_scanned += other.yara_scanned;
    yara_too_large += other.yara_too_large;
    yara_timeouts += other.yara_timeouts;
    return *this;
  }
};

// What one input holds.
struct ImageInput {
  std::string name;  // as given; "-" for stdin
  std::vector<Blob> blobs;
  std::vector<Image> images;          // after resolve(), filtered by platform
  std::vector<std::string> problems;  // each a full sentence, naming blob, layer or entry
  std::vector<std::string> platforms_passed_over;
  ScanStats stats;
  bool ended_early = false;  // the input was cut short or too large: later blobs unread
  bool stopped = false;      // a stop signal (SIGINT, SIGTERM) ended the reading
};

// Reads an input: a folder (OCI layout), a file, or "-" (stdin); a regular
// file is a tarball whatever its name. Problems are recorded, never thrown.
ImageInput read_image_input(const std::string& name, const ScanLimits& limits);
// The same from bytes in memory (fuzzing, tests).
ImageInput read_image_memory(const std::string& name, std::string_view bytes,
                             const ScanLimits& limits);

// Finds the images of an input from manifest.json (docker save) or
// index.json (OCI), keeping those of `platform` ("" all; "linux/arm64"
// matches any variant). Missing blobs and digest mismatches are problems.
void resolve_images(ImageInput& input, const std::string& platform);

// Where each file of an image ends up once its layers are stacked.
enum class FileState : uint8_t { Present, Deleted, Replaced };
struct StackedFile {
  const FileRecord* record;
  uint32_t layer;  // index in Image::layers
  FileState state;
};
// Every file of every layer, sorted by path then layer.
std::vector<StackedFile> stack_layers(const Image& image);

std::string hex(const std::array<uint8_t, 32>& digest);

// "/a/./b//c" -> "/a/b/c"; nullopt when a ".." climbs above the root.
std::optional<std::string> normalise_path(std::string_view raw);

}  // namespace pickaxe::scan
