#include "event/date_format.h"

#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace pickaxe {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day;
};

Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool leap_year(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(int64_t year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return month == 2 && leap_year(year) ? 29 : kDays[month - 1];
}

// The parts of a date and time as read; what a format leaves out is 1970-01-01T00:00Z.
struct Parts {
  int64_t year = 1970;
  int64_t month = 1, day = 1, day_of_year = 0;
  int64_t hour = 0, minute = 0, second = 0, nanos = 0;
  int64_t offset_seconds = 0;
  int64_t half = -1;  // AM 0, PM 1; -1: none read
  bool hour_of_half = false;
};

std::optional<int64_t> to_nanos(const Parts& parts) {
  int64_t hour = parts.hour;
  if (parts.half >= 0) {
    // h reads 1-12 and K 0-11: 12 and 0 both stand for the half's first hour.
    if (hour > 12) return std::nullopt;
    hour = hour % 12 + 12 * parts.half;
  }
  if (parts.year < -292000 || parts.year > 292000) return std::nullopt;
  int64_t days;
  if (parts.day_of_year > 0) {
    if (parts.day_of_year > (leap_year(parts.year) ? 366 : 365)) return std::nullopt;
    days = days_from_civil(parts.year, 1, 1) + parts.day_of_year - 1;
  } else {
    if (parts.month < 1 || parts.month > 12 || parts.day < 1 ||
        parts.day > days_in_month(parts.year, static_cast<unsigned>(parts.month)))
      return std::nullopt;
    days = days_from_civil(parts.year, static_cast<unsigned>(parts.month),
                           static_cast<unsigned>(parts.day));
  }
  // 24:00 is not a time of day here; a leap second (60) is read as 59.
  if (hour > 23 || parts.minute > 59 || parts.second > 60) return std::nullopt;
  int64_t seconds = days * 86400 + hour * 3600 + parts.minute * 60 +
                    std::min<int64_t>(parts.second, 59) - parts.offset_seconds;
  int64_t result;
  if (__builtin_mul_overflow(seconds, kNanosPerSecond, &result) ||
      __builtin_add_overflow(result, parts.nanos, &result))
    return std::nullopt;  // outside 1677-2262, the range of nanosecond timestamps
  return result;
}

bool read_digits(std::string_view text, size_t& pos, size_t count, int64_t& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += count;
  return true;
}

// Between min and max digits, as many as there are.
bool read_number(std::string_view text, size_t& pos, int min, int max, int64_t& out,
                 int* width = nullptr) {
  int digits = 0;
  out = 0;
  while (digits < max && pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    out = out * 10 + (text[pos++] - '0');
    ++digits;
  }
  if (width) *width = digits;
  return digits >= min;
}

// +HH, +HHMM, +HH:MM, or Z (when `z_allowed`).
bool read_offset(std::string_view text, size_t& pos, bool z_allowed, int64_t& seconds) {
  if (pos >= text.size()) return false;
  char sign = text[pos];
  if (sign == 'Z' || sign == 'z') {
    ++pos;
    seconds = 0;
    return z_allowed;
  }
  if (sign != '+' && sign != '-') return false;
  ++pos;
  int64_t hours = 0, minutes = 0;
  if (!read_digits(text, pos, 2, hours)) return false;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!read_digits(text, pos, 2, minutes)) return false;  // +05: is no offset
  } else if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' &&
             !read_digits(text, pos, 2, minutes)) {
    return false;
  }
  if (hours > 18 || minutes > 59) return false;
  seconds = (hours * 3600 + minutes * 60) * (sign == '-' ? -1 : 1);
  return true;
}

constexpr std::array<std::string_view, 12> kMonths = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kWeekdays = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

bool starts_with_folded(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = text[pos + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return true;
}

// A month or weekday name, full or its first three letters; its index, or -1.
template <size_t N>
int read_name(std::string_view text, size_t& pos, const std::array<std::string_view, N>& names,
              bool full) {
  for (size_t i = 0; i < N; ++i) {
    std::string_view word = full ? names[i] : names[i].substr(0, 3);
    if (starts_with_folded(text, pos, word)) {
      pos += word.size();
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool is_numeric_letter(char letter) {
  return std::string_view("yuMdDHhKkmsS").find(letter) != std::string_view::npos;
}

// Reads the elements from `first` to the end of their section.
bool read_elements(const std::vector<DateFormat::Element>& elements, size_t& index,
                   std::string_view text, size_t& pos, Parts& parts) {
  for (; index < elements.size(); ++index) {
    const DateFormat::Element& element = elements[index];
    if (element.letter == ']') return true;
    if (element.letter == '[') {
      // An optional section: read it if it is there, else skip it whole.
      size_t saved_pos = pos;
      Parts saved_parts = parts;
      size_t inner = index + 1;
      if (!read_elements(elements, inner, text, pos, parts)) {
        pos = saved_pos;
        parts = saved_parts;
        int depth = 0;
        for (inner = index + 1; inner < elements.size(); ++inner) {
          if (elements[inner].letter == '[') ++depth;
          if (elements[inner].letter == ']' && depth-- == 0) break;
        }
      }
      index = inner;
      continue;
    }
    if (element.letter == 0) {
      if (text.substr(pos, element.text.size()) != element.text) return false;
      pos += element.text.size();
      continue;
    }
    int64_t value = 0;
    int width = 0;
    switch (element.letter) {
      case 'y':
      case 'u':
        if (!read_number(text, pos, element.min_width, element.max_width, value, &width))
          return false;
        parts.year = element.count == 2 && width == 2 ? 2000 + value : value;
        break;
      case 'M':
        if (element.count >= 3) {
          int month = read_name(text, pos, kMonths, element.count >= 4);
          if (month < 0) return false;
          parts.month = month + 1;
        } else if (!read_number(text, pos, element.min_width, element.max_width, parts.month)) {
          return false;
        }
        break;
      case 'd':
        if (!read_number(text, pos, element.min_width, element.max_width, parts.day)) return false;
        break;
      case 'D':
        if (!read_number(text, pos, element.min_width, element.max_width, parts.day_of_year) ||
            parts.day_of_year < 1)
          return false;
        break;
      case 'H':
      case 'k':
      case 'K':
      case 'h':
        if (!read_number(text, pos, element.min_width, element.max_width, value)) return false;
        if (element.letter == 'k' && value == 24) value = 0;
        parts.hour = value;
        if (element.letter == 'h') parts.hour_of_half = true;
        break;
      case 'm':
        if (!read_number(text, pos, element.min_width, element.max_width, parts.minute))
          return false;
        break;
      case 's':
        if (!read_number(text, pos, element.min_width, element.max_width, parts.second))
          return false;
        break;
      case 'S':
        if (!read_number(text, pos, element.min_width, element.max_width, value, &width))
          return false;
        parts.nanos = value;
        for (int i = width; i < 9; ++i) parts.nanos *= 10;
        break;
      case 'a':
        if (starts_with_folded(text, pos, "am")) {
          parts.half = 0;
        } else if (starts_with_folded(text, pos, "pm")) {
          parts.half = 1;
        } else {
          return false;
        }
        pos += 2;
        break;
      case 'E':
        if (read_name(text, pos, kWeekdays, element.count >= 4) < 0) return false;
        break;
      case 'X':
      case 'Z':
        if (!read_offset(text, pos, true, parts.offset_seconds)) return false;
        break;
      case 'x':
        if (!read_offset(text, pos, false, parts.offset_seconds)) return false;
        break;
      case 'z':
      case 'V':
        for (std::string_view zone : {"UTC", "GMT", "Z"}) {
          if (text.substr(pos, zone.size()) == zone) {
            pos += zone.size();
            parts.offset_seconds = 0;
            goto zone_read;
          }
        }
        return false;
      zone_read:
        break;
      default: return false;
    }
  }
  return true;
}

std::optional<int64_t> read_pattern(const std::vector<DateFormat::Element>& elements,
                                    std::string_view text) {
  Parts parts;
  size_t index = 0, pos = 0;
  if (!read_elements(elements, index, text, pos, parts) || pos != text.size()) return std::nullopt;
  if (parts.hour_of_half && parts.half < 0) parts.half = 0;  // h without a: a morning hour
  return to_nanos(parts);
}

// A time in UTC, broken into its calendar parts.
struct Broken {
  int64_t days;  // since 1970-01-01
  Civil civil;
  int64_t hour, minute, second, fraction;
};

Broken split(int64_t nanos) {
  int64_t seconds = nanos / kNanosPerSecond, fraction = nanos % kNanosPerSecond;
  if (fraction < 0) {
    fraction += kNanosPerSecond;
    --seconds;
  }
  int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  return {days, civil_from_days(days), rest / 3600, rest / 60 % 60, rest % 60, fraction};
}

void write_elements(const std::vector<DateFormat::Element>& elements, int64_t nanos,
                    std::string& out) {
  const auto [days, civil, hour, minute, second, fraction] = split(nanos);
  auto number = [&](int64_t value, int width) { out += fmt::format("{:0{}}", value, width); };
  for (const DateFormat::Element& element : elements) {
    switch (element.letter) {
      case 0: out += element.text; break;
      case '[':
      case ']': break;
      case 'y':
      case 'u':
        number(element.count == 2 ? civil.year % 100 : civil.year, element.count == 2 ? 2 : 4);
        break;
      case 'M':
        if (element.count >= 3) {
          std::string name(kMonths[civil.month - 1]);
          if (element.count == 3) name.resize(3);
          name[0] = static_cast<char>(name[0] - 'a' + 'A');
          out += name;
        } else {
          number(civil.month, element.count);
        }
        break;
      case 'd': number(civil.day, element.count); break;
      case 'D': number(days - days_from_civil(civil.year, 1, 1) + 1, element.count); break;
      case 'H': number(hour, element.count); break;
      case 'k': number(hour == 0 ? 24 : hour, element.count); break;
      case 'K': number(hour % 12, element.count); break;
      case 'h': number(hour % 12 == 0 ? 12 : hour % 12, element.count); break;
      case 'm': number(minute, element.count); break;
      case 's': number(second, element.count); break;
      case 'S': {
        std::string digits = fmt::format("{:09}", fraction);
        out += digits.substr(0, static_cast<size_t>(std::min(element.count, 9)));
        break;
      }
      case 'a': out += hour < 12 ? "AM" : "PM"; break;
      case 'E': {
        int64_t weekday = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday
        std::string name(kWeekdays[static_cast<size_t>(weekday)]);
        if (element.count < 4) name.resize(3);
        name[0] = static_cast<char>(name[0] - 'a' + 'A');
        out += name;
        break;
      }
      case 'X':
      case 'Z': out += element.count == 3 || element.letter == 'X' ? "Z" : "+0000"; break;
      case 'x': out += element.count == 3 ? "+00:00" : "+0000"; break;
      default: out += "UTC"; break;
    }
  }
}

// A Java DateTimeFormatter pattern as elements; nullopt (with `error`) for a
// letter pickaxe does not read.
std::optional<std::vector<DateFormat::Element>> compile_pattern(std::string_view pattern,
                                                                std::string* error) {
  std::vector<DateFormat::Element> elements;
  auto literal = [&](std::string_view text) {
    if (!elements.empty() && elements.back().letter == 0)
      elements.back().text += text;
    else
      elements.push_back({0, 0, 0, 0, std::string(text)});
  };
  int depth = 0;
  for (size_t i = 0; i < pattern.size();) {
    char c = pattern[i];
    if (c == '\'') {
      size_t end = i + 1;
      std::string text;
      while (end < pattern.size()) {
        if (pattern[end] == '\'') {
          if (end + 1 < pattern.size() && pattern[end + 1] == '\'') {
            text += '\'';
            end += 2;
            continue;
          }
          break;
        }
        text += pattern[end++];
      }
      if (end >= pattern.size()) {
        *error = fmt::format("unclosed quote in the date pattern \"{}\"", pattern);
        return std::nullopt;
      }
      literal(end == i + 1 ? "'" : text);
      i = end + 1;
      continue;
    }
    if (c == '[' || c == ']') {
      depth += c == '[' ? 1 : -1;
      if (depth < 0) break;
      elements.push_back({c, 0, 0, 0, {}});
      ++i;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t end = i;
      while (end < pattern.size() && pattern[end] == c) ++end;
      int count = static_cast<int>(end - i);
      if (std::string_view("yuMdDHhKkmsSaEXxZzV").find(c) == std::string_view::npos) {
        *error = fmt::format(
            "the date pattern \"{}\" uses '{}', which pickaxe does not read (it reads y u M d D H "
            "h K k m s S a E X x Z z)",
            pattern, c);
        return std::nullopt;
      }
      if ((is_numeric_letter(c) || c == 'E' || c == 'a') && count > 9) {
        *error = fmt::format("the date pattern \"{}\" has {} '{}' in a row; at most 9 are read",
                             pattern, count, c);
        return std::nullopt;
      }
      DateFormat::Element element{c, count, count, count, {}};
      if (is_numeric_letter(c)) {
        // One letter reads one or two digits (a year, up to nine); more letters
        // read exactly that many, but a four-letter year reads four to nine.
        if (count == 1) element.max_width = c == 'y' || c == 'u' ? 9 : c == 'D' ? 3 : 2;
        if ((c == 'y' || c == 'u') && count >= 4) element.max_width = 9;
        if (c == 'S') element.min_width = count;
      }
      elements.push_back(element);
      i = end;
      continue;
    }
    literal(std::string_view(&pattern[i], 1));
    ++i;
  }
  if (depth != 0) {
    *error = fmt::format("unbalanced [ ] in the date pattern \"{}\"", pattern);
    return std::nullopt;
  }
  // A number followed at once by another has a fixed width (yyyyMMdd).
  for (size_t i = 0; i + 1 < elements.size(); ++i) {
    DateFormat::Element& element = elements[i];
    if (is_numeric_letter(element.letter) && is_numeric_letter(elements[i + 1].letter) &&
        !(element.letter == 'M' && element.count >= 3))
      element.max_width = std::max(element.count, element.min_width);
  }
  return elements;
}

// Elasticsearch's built-in formats that are patterns; fractions read 1 to 9 digits.
std::optional<std::string_view> builtin_pattern(std::string_view name) {
  if (name.starts_with("strict_")) name.remove_prefix(7);
  struct Builtin {
    std::string_view name, pattern;
  };
  static constexpr std::array<Builtin, 33> kBuiltins = {{
      {"basic_date", "yyyyMMdd"},
      {"basic_date_time", "yyyyMMdd'T'HHmmss.SSSZ"},
      {"basic_date_time_no_millis", "yyyyMMdd'T'HHmmssZ"},
      {"basic_ordinal_date", "yyyyDDD"},
      {"basic_ordinal_date_time", "yyyyDDD'T'HHmmss.SSSZ"},
      {"basic_ordinal_date_time_no_millis", "yyyyDDD'T'HHmmssZ"},
      {"basic_time", "HHmmss.SSSZ"},
      {"basic_time_no_millis", "HHmmssZ"},
      {"basic_t_time", "'T'HHmmss.SSSZ"},
      {"basic_t_time_no_millis", "'T'HHmmssZ"},
      {"date", "yyyy-MM-dd"},
      {"date_hour", "yyyy-MM-dd'T'HH"},
      {"date_hour_minute", "yyyy-MM-dd'T'HH:mm"},
      {"date_hour_minute_second", "yyyy-MM-dd'T'HH:mm:ss"},
      {"date_hour_minute_second_fraction", "yyyy-MM-dd'T'HH:mm:ss.SSS"},
      {"date_hour_minute_second_millis", "yyyy-MM-dd'T'HH:mm:ss.SSS"},
      {"date_time", "yyyy-MM-dd'T'HH:mm:ss.SSSZ"},
      {"date_time_no_millis", "yyyy-MM-dd'T'HH:mm:ssZ"},
      {"hour", "HH"},
      {"hour_minute", "HH:mm"},
      {"hour_minute_second", "HH:mm:ss"},
      {"hour_minute_second_fraction", "HH:mm:ss.SSS"},
      {"hour_minute_second_millis", "HH:mm:ss.SSS"},
      {"ordinal_date", "yyyy-DDD"},
      {"ordinal_date_time", "yyyy-DDD'T'HH:mm:ss.SSSZ"},
      {"ordinal_date_time_no_millis", "yyyy-DDD'T'HH:mm:ssZ"},
      {"time", "HH:mm:ss.SSSZ"},
      {"time_no_millis", "HH:mm:ssZ"},
      {"t_time", "'T'HH:mm:ss.SSSZ"},
      {"t_time_no_millis", "'T'HH:mm:ssZ"},
      {"year", "yyyy"},
      {"year_month", "yyyy-MM"},
      {"year_month_day", "yyyy-MM-dd"},
  }};
  for (const Builtin& builtin : kBuiltins)
    if (builtin.name == name) return builtin.pattern;
  return std::nullopt;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<int64_t> parse_epoch(std::string_view text, int64_t nanos_per_unit) {
  if (text.empty()) return std::nullopt;
  bool negative = text.front() == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  size_t dot = digits.find('.');
  std::string_view whole = digits.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : digits.substr(dot + 1);
  if (whole.empty() || whole.find_first_not_of("0123456789") != std::string_view::npos ||
      (dot != std::string_view::npos &&
       (fraction.empty() || fraction.find_first_not_of("0123456789") != std::string_view::npos)))
    return std::nullopt;
  int64_t units = 0;
  auto [end, error] = std::from_chars(whole.data(), whole.data() + whole.size(), units);
  if (error != std::errc()) return std::nullopt;
  // The fraction, to the nanosecond.
  int64_t part = 0, scale = nanos_per_unit;
  for (char c : fraction) {
    if (scale < 10) break;
    scale /= 10;
    part += (c - '0') * scale;
  }
  int64_t result;
  if (__builtin_mul_overflow(units, nanos_per_unit, &result) ||
      __builtin_add_overflow(result, part, &result))
    return std::nullopt;
  return negative ? -result : result;
}

std::optional<int64_t> parse_iso8601(std::string_view text) {
  Parts parts;
  size_t pos = 0;
  if (!read_digits(text, pos, 4, parts.year)) return std::nullopt;
  if (pos < text.size() && text[pos] == '-') {
    ++pos;
    if (!read_digits(text, pos, 2, parts.month)) return std::nullopt;
    if (pos < text.size() && text[pos] == '-') {
      ++pos;
      if (!read_digits(text, pos, 2, parts.day)) return std::nullopt;
    }
  }
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    if (!read_digits(text, pos, 2, parts.hour)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!read_digits(text, pos, 2, parts.minute)) return std::nullopt;
      if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (!read_digits(text, pos, 2, parts.second)) return std::nullopt;
        if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
          ++pos;
          int64_t value = 0;
          int width = 0;
          if (!read_number(text, pos, 1, 9, value, &width)) return std::nullopt;
          while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;  // past ns
          parts.nanos = value;
          for (int i = width; i < 9; ++i) parts.nanos *= 10;
        }
      }
    }
    if (pos < text.size() && !read_offset(text, pos, true, parts.offset_seconds))
      return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return to_nanos(parts);
}

std::string format_iso8601(int64_t nanos) {
  const Broken t = split(nanos);
  if (t.fraction % 1'000'000 == 0)
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.civil.year, t.civil.month,
                       t.civil.day, t.hour, t.minute, t.second, t.fraction / 1'000'000);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", t.civil.year, t.civil.month,
                     t.civil.day, t.hour, t.minute, t.second, t.fraction);
}

DateFormat::DateFormat() {
  alternatives_.push_back({Kind::Iso, "strict_date_optional_time", {}});
  alternatives_.push_back({Kind::EpochMillis, "epoch_millis", {}});
  spec_ = "strict_date_optional_time||epoch_millis";
}

const DateFormat& DateFormat::standard() {
  static const DateFormat format;
  return format;
}

std::optional<DateFormat> DateFormat::parse(std::string_view spec, std::string* error) {
  std::string unused;
  if (!error) error = &unused;
  DateFormat format;
  format.alternatives_.clear();
  format.spec_ = std::string(spec);
  size_t start = 0;
  while (true) {
    size_t bar = spec.find("||", start);
    std::string_view part =
        trim(spec.substr(start, bar == std::string_view::npos ? bar : bar - start));
    Alternative alternative;
    alternative.name = std::string(part);
    std::string_view name = part;
    if (name.starts_with("8")) name.remove_prefix(1);  // the 7.x prefix for java-time patterns
    if (name.empty()) {
      *error = fmt::format("empty alternative in the date format \"{}\"", spec);
      return std::nullopt;
    }
    if (name == "epoch_millis") {
      alternative.kind = Kind::EpochMillis;
    } else if (name == "epoch_second") {
      alternative.kind = Kind::EpochSecond;
    } else if (name == "date_optional_time" || name == "strict_date_optional_time" ||
               name == "strict_date_optional_time_nanos" || name == "iso8601") {
      alternative.kind = Kind::Iso;
    } else if (name.find("week") != std::string_view::npos) {
      *error =
          fmt::format("the date format \"{}\" counts weeks, which pickaxe does not read", name);
      return std::nullopt;
    } else {
      std::optional<std::string_view> builtin = builtin_pattern(name);
      auto elements = compile_pattern(builtin.value_or(name), error);
      if (!elements) return std::nullopt;
      if (builtin) {
        for (Element& element : *elements)
          if (element.letter == 'S') element.min_width = 1, element.max_width = 9;
      }
      alternative.kind = Kind::Pattern;
      alternative.elements = std::move(*elements);
    }
    format.alternatives_.push_back(std::move(alternative));
    if (bar == std::string_view::npos) break;
    start = bar + 2;
  }
  return format;
}

std::optional<int64_t> DateFormat::read(std::string_view text) const {
  for (const Alternative& alternative : alternatives_) {
    std::optional<int64_t> nanos;
    switch (alternative.kind) {
      case Kind::Iso: nanos = parse_iso8601(text); break;
      case Kind::EpochMillis: nanos = parse_epoch(text, 1'000'000); break;
      case Kind::EpochSecond: nanos = parse_epoch(text, kNanosPerSecond); break;
      case Kind::Pattern: nanos = read_pattern(alternative.elements, text); break;
    }
    if (nanos) return nanos;
  }
  return std::nullopt;
}

std::optional<int64_t> DateFormat::read(const Scalar& value) const {
  if (value.type == Scalar::Type::String) return read(value.string);
  if (!value.is_number()) return std::nullopt;
  // A JSON number is epoch time when the format reads epoch time; otherwise
  // its digits are read as text.
  for (const Alternative& alternative : alternatives_) {
    if (alternative.kind != Kind::EpochMillis && alternative.kind != Kind::EpochSecond) continue;
    const int64_t unit = alternative.kind == Kind::EpochMillis ? 1'000'000 : kNanosPerSecond;
    if (value.type == Scalar::Type::Long) {
      int64_t result;
      if (__builtin_mul_overflow(value.integer, unit, &result)) return std::nullopt;
      return result;
    }
    double nanos = value.number * static_cast<double>(unit);
    if (!(nanos > -9.2e18 && nanos < 9.2e18)) return std::nullopt;  // also rejects NaN
    return static_cast<int64_t>(nanos);
  }
  if (value.type == Scalar::Type::Long)
    return read(std::string_view(std::to_string(value.integer)));
  if (!std::isfinite(value.number)) return std::nullopt;
  return read(std::string_view(fmt::format("{}", value.number)));
}

std::string DateFormat::write(int64_t nanos) const {
  const Alternative& first = alternatives_.front();
  switch (first.kind) {
    case Kind::Iso: return format_iso8601(nanos);
    case Kind::EpochMillis: return std::to_string(nanos / 1'000'000);
    case Kind::EpochSecond: return std::to_string(nanos / kNanosPerSecond);
    case Kind::Pattern: {
      std::string out;
      write_elements(first.elements, nanos, out);
      return out;
    }
  }
  return {};
}

void DateFormat::merge(const DateFormat& other) {
  for (const Alternative& alternative : other.alternatives_) {
    bool known = false;
    for (const Alternative& mine : alternatives_) known = known || mine.name == alternative.name;
    if (known) continue;
    alternatives_.push_back(alternative);
    spec_ += "||" + alternative.name;
  }
}

}  // namespace pickaxe
