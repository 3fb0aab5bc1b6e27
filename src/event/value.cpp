#include "event/value.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace pickaxe {

bool Scalar::operator==(const Scalar& other) const {
  if (type != other.type) {
    if (is_number() && other.is_number()) return as_double() == other.as_double();
    return false;
  }
  switch (type) {
    case Type::Null: return true;
    case Type::Bool: return boolean == other.boolean;
    case Type::Long: return integer == other.integer;
    case Type::Double: return number == other.number;
    case Type::String: return string == other.string;
  }
  return false;
}

std::string Scalar::to_string() const {
  switch (type) {
    case Type::Null: return "null";
    case Type::Bool: return boolean ? "true" : "false";
    case Type::Long: return fmt::format("{}", integer);
    case Type::Double:
      if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 1e15)
        return fmt::format("{:.1f}", number);
      return fmt::format("{}", number);
    case Type::String: return string;
  }
  return "null";
}

}  // namespace pickaxe
