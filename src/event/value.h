// Runtime values: what a field of an event holds, and what expressions compute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pickaxe {

struct Scalar {
  enum class Type : uint8_t { Null, Bool, Long, Double, String };
  Type type = Type::Null;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string string;

  static Scalar null() { return {}; }
  static Scalar of_bool(bool v) { return {Type::Bool, v, 0, 0, {}}; }
  static Scalar of_long(int64_t v) { return {Type::Long, false, v, 0, {}}; }
  static Scalar of_double(double v) { return {Type::Double, false, 0, v, {}}; }
  static Scalar of_string(std::string v) { return {Type::String, false, 0, 0, std::move(v)}; }

  bool is_null() const { return type == Type::Null; }
  bool is_number() const { return type == Type::Long || type == Type::Double; }
  double as_double() const { return type == Type::Long ? static_cast<double>(integer) : number; }
  bool operator==(const Scalar& other) const;
  // The value as Elasticsearch renders it in a join key or string(): 1, 1.5, true, text.
  std::string to_string() const;
};

// All values of one field in one event: empty when the field is missing;
// several when it is an array (or a path through an array of objects).
using Values = std::vector<Scalar>;

}  // namespace pickaxe
