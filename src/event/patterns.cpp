#include "event/patterns.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <re2/re2.h>

namespace pickaxe {

std::string fold_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = fold(c);
  return out;
}

bool has_wildcards(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

bool wildcard_match(std::string_view text, std::string_view pattern, bool insensitive) {
  size_t t = 0, p = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  auto same = [insensitive](char a, char b) { return insensitive ? fold(a) == fold(b) : a == b; };
  while (t < text.size()) {
    if (p < pattern.size()) {
      char c = pattern[p];
      if (c == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (c == '?') {
        // `?` is one character: skip a whole UTF-8 sequence.
        ++p;
        ++t;
        while (t < text.size() && (static_cast<unsigned char>(text[t]) & 0xC0) == 0x80) ++t;
        continue;
      }
      if (same(text[t], c)) {
        ++p;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

int regex_program_size(std::string_view lucene) {
  auto translated = lucene_to_re2(lucene);
  if (!translated) return 0;
  RE2::Options options;
  options.set_log_errors(false);
  RE2 regex(*translated, options);
  return regex.ok() ? regex.ProgramSize() : 0;
}

std::optional<std::string> lucene_to_re2(std::string_view lucene, std::string* reason) {
  std::string out = "(?s)";
  bool in_class = false;
  for (size_t i = 0; i < lucene.size(); ++i) {
    char c = lucene[i];
    if (c == '\\') {
      if (i + 1 >= lucene.size()) {
        if (reason) *reason = "the pattern ends with a lone backslash";
        return std::nullopt;
      }
      char next = lucene[++i];
      if (std::isalnum(static_cast<unsigned char>(next))) {
        out += next;  // Lucene has no \d, \w...: an escaped letter is the letter
      } else {
        out += '\\';
        out += next;
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      if (c == '[') out += '\\';
      out += c;
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        out += c;
        if (i + 1 < lucene.size() && lucene[i + 1] == '^') out += lucene[++i];
        break;
      case '"': {
        size_t end = lucene.find('"', i + 1);
        if (end == std::string_view::npos) {
          if (reason) *reason = "an opening \" has no closing \"";
          return std::nullopt;
        }
        for (char literal : lucene.substr(i + 1, end - i - 1)) {
          if (!std::isalnum(static_cast<unsigned char>(literal))) out += '\\';
          out += literal;
        }
        i = end;
        break;
      }
      case '@': out += ".*"; break;
      case '#': out += "[^\\x00-\\x{10FFFF}]"; break;
      case '^':
      case '$':
        out += '\\';
        out += c;
        break;
      case '&':
      case '~':
      case '<':
        if (reason) *reason = std::string("the Lucene operator '") + c + "' has no RE2 equivalent";
        return std::nullopt;
      default: out += c;
    }
  }
  if (in_class) {
    if (reason) *reason = "a character class is never closed";
    return std::nullopt;
  }
  return out;
}

namespace {

// Dotted-quad IPv4 as inet_pton(AF_INET) reads it: four decimal parts, each
// at most 255 and without a leading zero, and nothing else. Written out
// because IP fields are checked on every event.
bool parse_ipv4(std::string_view text, unsigned char* out) {
  unsigned part = 0, parts = 0;
  bool digit_seen = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (digit_seen && part == 0) return false;  // a leading zero
      part = part * 10 + static_cast<unsigned>(c - '0');
      if (part > 255) return false;
      if (!digit_seen) {
        if (++parts > 4) return false;
        digit_seen = true;
      }
    } else if (c == '.' && digit_seen) {
      if (parts == 4) return false;
      out[parts - 1] = static_cast<unsigned char>(part);
      part = 0;
      digit_seen = false;
    } else {
      return false;
    }
  }
  if (parts < 4 || !digit_seen) return false;
  out[3] = static_cast<unsigned char>(part);
  return true;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  IpAddress address;
  if (text.find(':') == std::string_view::npos) {
    if (!parse_ipv4(text, address.bytes.data() + 12)) return std::nullopt;
    address.v4 = true;
    address.bytes[10] = address.bytes[11] = 0xFF;
    return address;
  }
  char buffer[65];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) return address;
  return std::nullopt;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  auto address = parse_ip(text.substr(0, slash));
  if (!address) return std::nullopt;
  Cidr cidr;
  cidr.network = *address;
  int max_prefix = address->v4 ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix) return std::nullopt;
  }
  cidr.prefix = address->v4 ? prefix + 96 : prefix;
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  int bits = prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xFF : static_cast<unsigned char>(0xFF << (8 - bits));
    if ((address.bytes[i] & mask) != (network.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace pickaxe

namespace pickaxe {

namespace {

unsigned __int128 to_integer(const IpAddress& address) {
  unsigned __int128 value = 0;
  for (unsigned char byte : address.bytes) value = (value << 8) | byte;
  return value;
}

}  // namespace

void CidrTable::add(const Cidr& cidr) {
  Address network = to_integer(cidr.network);
  Address host_mask = cidr.prefix >= 128 ? 0 : (~static_cast<Address>(0)) >> cidr.prefix;
  std::pair<Address, Address> range{network & ~host_mask, network | host_mask};
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), range);
  ranges_.insert(it, range);
  // Merge overlapping ranges so that lookups can binary-search.
  std::vector<std::pair<Address, Address>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

bool CidrTable::contains(const IpAddress& address) const {
  Address value = to_integer(address);
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(),
                             std::pair<Address, Address>{value, ~static_cast<Address>(0)});
  if (it == ranges_.begin()) return false;
  --it;
  return value >= it->first && value <= it->second;
}

}  // namespace pickaxe
