// Pattern matching primitives with Elasticsearch's semantics: wildcards
// (`*` and `?`; a backslash is an ordinary character, as in Elasticsearch) and Lucene regular
// expressions, both anchored to the whole value; CIDR membership for IPv4 and IPv6.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pickaxe {

bool wildcard_match(std::string_view text, std::string_view pattern, bool insensitive);
bool has_wildcards(std::string_view pattern);

// Translates a Lucene regexp into RE2 syntax. Returns nullopt with a reason
// for constructs RE2 cannot express.
std::optional<std::string> lucene_to_re2(std::string_view lucene, std::string* reason = nullptr);

// The size of a Lucene regexp's RE2 program (steps per byte matched, at
// worst), or 0 when it does not compile. Elasticsearch refuses regexps whose
// automaton passes 10 000 states; pickaxe refuses programs past
// kMaxRegexProgram instructions and lint warns past kCostlyRegexProgram.
int regex_program_size(std::string_view lucene);
constexpr int kCostlyRegexProgram = 2'000;
constexpr int kMaxRegexProgram = 10'000;

struct IpAddress {
  std::array<unsigned char, 16> bytes{};  // IPv4 is stored IPv4-mapped (::ffff:a.b.c.d)
  bool v4 = false;
  bool operator==(const IpAddress&) const = default;
};

std::optional<IpAddress> parse_ip(std::string_view text);

struct Cidr {
  IpAddress network;
  int prefix = 0;  // in bits of the 128-bit form
  bool contains(const IpAddress& address) const;
};

std::optional<Cidr> parse_cidr(std::string_view text);

// Many CIDR ranges as sorted, merged address intervals: membership is one
// binary search, however long the list.
class CidrTable {
 public:
  void add(const Cidr& cidr);
  bool empty() const { return ranges_.empty(); }
  bool contains(const IpAddress& address) const;

 private:
  using Address = unsigned __int128;
  std::vector<std::pair<Address, Address>> ranges_;  // inclusive, sorted, disjoint
};

// ASCII case folding, which is what Elasticsearch's case-insensitive operators
// apply to the characters EQL rules use.
std::string fold_case(std::string_view text);
inline char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace pickaxe
