// libFuzzer target for the image reader: the bytes are an image tarball
// (docker save or OCI, any compression), read through libarchive with the
// bundled YARA set, resolved by its manifests and turned into scan events.
// The caps are small so that a bomb ends quickly.
#include <cstdint>
#include <memory>
#include <string>

#include "scan/events.h"
#include "scan/image.h"
#include "scan/yara_set.h"

using namespace pickaxe;

namespace {

const scan::YaraSet* bundled_yara() {
  static std::unique_ptr<scan::YaraSet> set = [] {
    std::vector<std::string> problems;
    return scan::YaraSet::compile({PICKAXE_SOURCE_DIR "/rules/t1204_003/scan/yara"}, problems);
  }();
  return set.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  scan::ScanLimits limits;
  limits.max_unpacked = 8 << 20;
  limits.max_json_bytes = 1 << 20;
  limits.yara_max_size = 1 << 20;
  limits.yara_timeout_seconds = 2;
  limits.yara = bundled_yara();
  scan::ImageInput input = scan::read_image_memory(
      "fuzz", std::string_view(reinterpret_cast<const char*>(data), size), limits);
  scan::resolve_images(input, size > 0 && data[0] % 2 ? "linux/amd64" : "");
  scan::EventContext context{"2026-01-01T00:00:00Z", "fuzz", limits.yara};
  for (const scan::Image& image : input.images)
    scan::write_image_events(image, context, [](std::string_view) {});
  return 0;
}
