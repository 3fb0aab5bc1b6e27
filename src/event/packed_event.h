// An event that waits (in the reorder buffer) packed into one block of
// memory: its time, line, document (a view into a mapped input, or its own
// copy) and the values of its slots, a fraction of an Event's footprint and
// one allocation instead of one per field. Unpacked when it is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "event/event.h"

namespace pickaxe {

// Values in the same encoding, for compact keys: equal keys (as Scalar
// vectors) pack to equal bytes.
void pack_value(std::string& out, const Scalar& value);
// Reads one value packed by pack_value from the front of `in`, and drops it;
// none when `in` does not start with one.
std::optional<Scalar> unpack_value(std::string_view& in);

// An event written out whole (values, time, order, line and its document,
// copied even from a mapped input), for checkpoints; read_event reads one
// from the front of `in` and drops it, false when it cannot. Without
// `document`, an empty one is written (the caller keeps where it is).
void write_event(std::string& out, const Event& event, bool document = true);
bool read_event(std::string_view& in, Event& event);

class PackedEvent {
 public:
  PackedEvent() = default;
  // Packs the event's values, time, line and document.
  explicit PackedEvent(const Event& event);
  PackedEvent(PackedEvent&&) noexcept = default;
  PackedEvent& operator=(PackedEvent&&) noexcept = default;

  explicit operator bool() const { return data_ != nullptr; }
  int64_t timestamp() const { return header().timestamp; }
  bool has_timestamp() const { return header().has_timestamp != 0; }
  void set_timestamp(int64_t timestamp);
  void set_line(uint64_t line);
  // The first value of a slot, if it has one.
  std::optional<Scalar> first_value(uint32_t slot) const;
  // Fills `event` (its fields replaced) with what was packed.
  void unpack(Event& event) const;
  size_t bytes() const { return data_ ? header().size : 0; }

 private:
  struct Header {
    int64_t timestamp;
    uint64_t line;
    const char* mapped;    // the document inside a mapped input, or null
    uint32_t source_size;  // the document's size (copied after the values when not mapped)
    uint32_t size;         // the whole block's
    uint32_t slot_count;   // slots with values
    uint32_t index_size;   // the slots of the field index (FieldValues::size)
    uint8_t has_timestamp;
  };
  const Header& header() const { return *reinterpret_cast<const Header*>(data_.get()); }
  Header& header() { return *reinterpret_cast<Header*>(data_.get()); }
  std::unique_ptr<std::byte[]> data_;
};

}  // namespace pickaxe
