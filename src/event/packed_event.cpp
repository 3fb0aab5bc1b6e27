#include "event/packed_event.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace pickaxe {

// The block: the header, then per slot its number and value count (two
// uint32), then the values (a type byte and a payload: one byte for a bool,
// eight for a number, a uint32 size and the bytes for a string), then the
// document when it is not a view. Payloads are unaligned: read with memcpy.
namespace {

template <typename T>
void put(std::byte*& at, const T& value) {
  std::memcpy(at, &value, sizeof(T));
  at += sizeof(T);
}

template <typename T>
T take(const std::byte*& at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  at += sizeof(T);
  return value;
}

size_t payload_size(const Scalar& value) {
  switch (value.type) {
    case Scalar::Type::Null: return 1;
    case Scalar::Type::Bool: return 2;
    case Scalar::Type::Long:
    case Scalar::Type::Double: return 9;
    case Scalar::Type::String: return 5 + value.string.size();
  }
  return 1;
}

void put_value(std::byte*& at, const Scalar& value) {
  put(at, static_cast<uint8_t>(value.type));
  switch (value.type) {
    case Scalar::Type::Null: break;
    case Scalar::Type::Bool: put(at, static_cast<uint8_t>(value.boolean)); break;
    case Scalar::Type::Long: put(at, value.integer); break;
    case Scalar::Type::Double: put(at, value.number); break;
    case Scalar::Type::String:
      put(at, static_cast<uint32_t>(value.string.size()));
      std::memcpy(at, value.string.data(), value.string.size());
      at += value.string.size();
      break;
  }
}

void take_value(const std::byte*& at, Scalar& value) {
  value.type = static_cast<Scalar::Type>(take<uint8_t>(at));
  switch (value.type) {
    case Scalar::Type::Null: break;
    case Scalar::Type::Bool: value.boolean = take<uint8_t>(at) != 0; break;
    case Scalar::Type::Long: value.integer = take<int64_t>(at); break;
    case Scalar::Type::Double: value.number = take<double>(at); break;
    case Scalar::Type::String: {
      uint32_t size = take<uint32_t>(at);
      value.string.assign(reinterpret_cast<const char*>(at), size);
      at += size;
      break;
    }
  }
}

// Steps over a value without reading it out.
void skip_value(const std::byte*& at) {
  switch (static_cast<Scalar::Type>(take<uint8_t>(at))) {
    case Scalar::Type::Null: break;
    case Scalar::Type::Bool: at += 1; break;
    case Scalar::Type::Long:
    case Scalar::Type::Double: at += 8; break;
    case Scalar::Type::String: at += take<uint32_t>(at); break;
  }
}

}  // namespace

void pack_value(std::string& out, const Scalar& value) {
  Scalar canonical;
  const Scalar* packed = &value;
  if (value.type == Scalar::Type::Double && (value.number == 0 || std::isnan(value.number))) {
    // -0.0 and 0.0, and NaNs of any payload, are one key.
    canonical = Scalar::of_double(value.number == 0 ? 0.0 : std::nan(""));
    packed = &canonical;
  }
  size_t at = out.size();
  out.resize(at + payload_size(*packed));
  std::byte* bytes = reinterpret_cast<std::byte*>(out.data()) + at;
  put_value(bytes, *packed);
}

namespace {

// Bounds-checked reads from the front of `in`.
template <typename T>
bool read(std::string_view& in, T& value) {
  if (in.size() < sizeof(T)) return false;
  std::memcpy(&value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return true;
}

template <typename T>
void append(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace

std::optional<Scalar> unpack_value(std::string_view& in) {
  uint8_t type = 0;
  if (!read(in, type)) return std::nullopt;
  switch (static_cast<Scalar::Type>(type)) {
    case Scalar::Type::Null: return Scalar::null();
    case Scalar::Type::Bool: {
      uint8_t boolean = 0;
      if (!read(in, boolean)) return std::nullopt;
      return Scalar::of_bool(boolean != 0);
    }
    case Scalar::Type::Long: {
      int64_t integer = 0;
      if (!read(in, integer)) return std::nullopt;
      return Scalar::of_long(integer);
    }
    case Scalar::Type::Double: {
      double number = 0;
      if (!read(in, number)) return std::nullopt;
      return Scalar::of_double(number);
    }
    case Scalar::Type::String: {
      uint32_t size = 0;
      if (!read(in, size) || in.size() < size) return std::nullopt;
      Scalar value = Scalar::of_string(std::string(in.substr(0, size)));
      in.remove_prefix(size);
      return value;
    }
  }
  return std::nullopt;
}

void write_event(std::string& out, const Event& event, bool document) {
  append(out, event.timestamp);
  append(out, static_cast<uint8_t>(event.has_timestamp));
  append(out, event.order);
  append(out, event.line);
  append(out, static_cast<uint32_t>(event.fields.size()));
  append(out, static_cast<uint32_t>(event.fields.entries().size()));
  for (const auto& [slot, values] : event.fields.entries()) {
    append(out, slot);
    append(out, static_cast<uint32_t>(values.size()));
    for (const Scalar& value : values) pack_value(out, value);
  }
  const std::string source = document ? event.document() : std::string();
  append(out, static_cast<uint64_t>(source.size()));
  out.append(source);
}

bool read_event(std::string_view& in, Event& event) {
  uint8_t has_timestamp = 0;
  uint32_t index_size = 0, slot_count = 0;
  if (!read(in, event.timestamp) || !read(in, has_timestamp) || !read(in, event.order) ||
      !read(in, event.line) || !read(in, index_size) || !read(in, slot_count))
    return false;
  event.has_timestamp = has_timestamp != 0;
  event.fields.reset(index_size);
  uint32_t previous = 0;
  for (uint32_t i = 0; i < slot_count; ++i) {
    uint32_t slot = 0, count = 0;
    if (!read(in, slot) || !read(in, count)) return false;
    if (slot >= index_size || (i > 0 && slot <= previous)) return false;  // sorted, in range
    previous = slot;
    Values& values = event.fields.at(slot);
    for (uint32_t v = 0; v < count; ++v) {
      std::optional<Scalar> value = unpack_value(in);
      if (!value) return false;
      values.push_back(std::move(*value));
    }
  }
  uint64_t size = 0;
  if (!read(in, size) || in.size() < size) return false;
  event.mapped_source = {};
  event.owned_source.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}

PackedEvent::PackedEvent(const Event& event) {
  const bool mapped = event.mapped_source.data() != nullptr;
  const std::string_view source = event.source();
  size_t size = sizeof(Header);
  for (const auto& [slot, values] : event.fields.entries()) {
    size += 2 * sizeof(uint32_t);
    for (const Scalar& value : values) size += payload_size(value);
  }
  if (!mapped) size += source.size();
  // Events are bounded by the line limit, far below 4 GiB.
  if (size > std::numeric_limits<uint32_t>::max()) throw std::length_error("event too large");
  data_ = std::make_unique_for_overwrite<std::byte[]>(size);
  Header& head = header();
  head.timestamp = event.timestamp;
  head.line = event.line;
  head.mapped = mapped ? source.data() : nullptr;
  head.source_size = static_cast<uint32_t>(source.size());
  head.size = static_cast<uint32_t>(size);
  head.slot_count = static_cast<uint32_t>(event.fields.entries().size());
  head.index_size = static_cast<uint32_t>(event.fields.size());
  head.has_timestamp = event.has_timestamp ? 1 : 0;
  std::byte* at = data_.get() + sizeof(Header);
  for (const auto& [slot, values] : event.fields.entries()) {
    put(at, slot);
    put(at, static_cast<uint32_t>(values.size()));
  }
  for (const auto& [slot, values] : event.fields.entries())
    for (const Scalar& value : values) put_value(at, value);
  if (!mapped && !source.empty()) std::memcpy(at, source.data(), source.size());
}

void PackedEvent::set_timestamp(int64_t timestamp) {
  header().timestamp = timestamp;
}
void PackedEvent::set_line(uint64_t line) {
  header().line = line;
}

std::optional<Scalar> PackedEvent::first_value(uint32_t slot) const {
  const Header& head = header();
  const std::byte* table = data_.get() + sizeof(Header);
  const std::byte* values = table + head.slot_count * 2 * sizeof(uint32_t);
  for (uint32_t i = 0; i < head.slot_count; ++i) {
    uint32_t entry_slot = take<uint32_t>(table);
    uint32_t count = take<uint32_t>(table);
    if (entry_slot == slot) {
      if (count == 0) return std::nullopt;
      Scalar value;
      take_value(values, value);
      return value;
    }
    for (uint32_t v = 0; v < count; ++v) skip_value(values);
  }
  return std::nullopt;
}

void PackedEvent::unpack(Event& event) const {
  const Header& head = header();
  event.timestamp = head.timestamp;
  event.has_timestamp = head.has_timestamp != 0;
  event.line = head.line;
  const std::byte* table = data_.get() + sizeof(Header);
  const std::byte* values = table + head.slot_count * 2 * sizeof(uint32_t);
  event.fields.reset(head.index_size);
  for (uint32_t i = 0; i < head.slot_count; ++i) {
    uint32_t slot = take<uint32_t>(table);
    uint32_t count = take<uint32_t>(table);
    Values& into = event.fields.at(slot);
    into.resize(count);
    for (Scalar& value : into) take_value(values, value);
  }
  if (head.mapped) {
    event.mapped_source = std::string_view(head.mapped, head.source_size);
    event.owned_source.clear();
  } else {
    event.mapped_source = {};
    event.owned_source.assign(reinterpret_cast<const char*>(values), head.source_size);
  }
}

}  // namespace pickaxe
