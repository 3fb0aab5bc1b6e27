// Checkpoints in a plain binary form: fixed-size values as they lie in
// memory (the checkpoint is read back by the same build on the same
// machine), strings with their length. The reader never reads past its
// input, and its first failure sticks.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

namespace pickaxe {

template <typename T>
void put(std::string& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

inline void put_bytes(std::string& out, std::string_view bytes) {
  put(out, static_cast<uint64_t>(bytes.size()));
  out.append(bytes);
}

inline void put_counts(std::string& out, const std::map<std::string, uint64_t>& counts) {
  put(out, static_cast<uint64_t>(counts.size()));
  for (const auto& [name, count] : counts) {
    put_bytes(out, name);
    put(out, count);
  }
}

// The front of each kind of saved state: four magic bytes and a version.
struct StateHeader {
  std::string_view magic;  // four bytes
  uint32_t version;
  std::string_view what;  // the kind, in messages: "query state"
  static constexpr size_t kSize = 4 + sizeof(uint32_t);

  void put(std::string& out) const {
    out.append(magic);
    pickaxe::put(out, version);
  }
  // Takes the header off the front of `in`; false, with why, when `in` is
  // not of this kind and version.
  bool get(std::string_view& in, std::string* error) const {
    uint32_t found = 0;
    if (!in.starts_with(magic)) {
      if (error) *error = fmt::format("not a pickaxe {}", what);
      return false;
    }
    if (in.size() < kSize ||
        (std::memcpy(&found, in.data() + 4, sizeof(found)), found != version)) {
      if (error) *error = fmt::format("{} version {} is not {}", what, found, version);
      return false;
    }
    in.remove_prefix(kSize);
    return true;
  }
};

class BinaryReader {
 public:
  explicit BinaryReader(std::string_view in) : in_(in), size_(in.size()) {}
  template <typename T>
  bool get(T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (failed_ || in_.size() < sizeof(T)) return fail();
    std::memcpy(&value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  // A count of items each at least `least` bytes long: no more than could fit.
  bool count(uint64_t& value, size_t least) {
    return get(value) && (value <= in_.size() / (least == 0 ? 1 : least) || fail());
  }
  bool bytes(std::string& out) {
    std::string_view view;
    if (!bytes(view)) return false;
    out.assign(view);
    return true;
  }
  bool bytes(std::string_view& out) {
    uint64_t size = 0;
    if (!get(size) || size > in_.size()) return fail();
    out = in_.substr(0, size);
    in_.remove_prefix(size);
    return true;
  }
  bool counts(std::map<std::string, uint64_t>& counts) {
    uint64_t size = 0;
    if (!count(size, 16)) return false;
    counts.clear();
    for (uint64_t i = 0; i < size; ++i) {
      std::string name;
      uint64_t value = 0;
      if (!bytes(name) || !get(value)) return false;
      counts[name] = value;
    }
    return true;
  }
  // The unread rest, for readers of their own (read_event); `consumed` bytes
  // of it are then taken.
  std::string_view rest() const { return failed_ ? std::string_view() : in_; }
  void skip(size_t consumed) { in_.remove_prefix(consumed); }
  bool at_end() const { return !failed_ && in_.empty(); }
  bool failed() const { return failed_; }
  size_t offset() const { return size_ - in_.size(); }
  bool fail() {
    if (!failed_) failed_at_ = offset();
    failed_ = true;
    return false;
  }
  size_t failed_at() const { return failed_at_; }

 private:
  std::string_view in_;
  size_t size_;
  bool failed_ = false;
  size_t failed_at_ = 0;
};

}  // namespace pickaxe
