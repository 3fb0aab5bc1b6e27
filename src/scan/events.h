// An image as ECS events (docs/SCAN.md): its config, each history entry and
// each file of each layer, as NDJSON for the rule engine.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "scan/image.h"

namespace pickaxe::scan {

struct EventContext {
  std::string timestamp;  // every event's @timestamp: when the scan ran
  std::string input;      // the IMAGE argument
  const YaraSet* yara = nullptr;
};

struct ImageCounts {
  uint64_t events = 0;
  uint64_t files = 0;  // regular files present in the final filesystem
};

// Writes the events in chunks of about a megabyte, each whole lines.
ImageCounts write_image_events(const Image& image, const EventContext& context,
                               const std::function<void(std::string_view)>& emit);

}  // namespace pickaxe::scan
