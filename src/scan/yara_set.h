// YARA rules compiled once (libyara) and run over the content of image files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct YR_RULES;

namespace pickaxe::scan {

class YaraSet {
 public:
  // Compiles every .yar / .yara file of `paths` (files or folders). Each
  // problem is one "file:line: message" line in `problems`; null when any is
  // an error (warnings are kept in `problems` too).
  static std::unique_ptr<YaraSet> compile(const std::vector<std::string>& paths,
                                          std::vector<std::string>& problems);
  ~YaraSet();
  YaraSet(const YaraSet&) = delete;
  YaraSet& operator=(const YaraSet&) = delete;

  enum class Outcome { Scanned, TimedOut, Failed };
  // The numbers of the rules that match `data`, in rule order.
  Outcome scan(const uint8_t* data, size_t size, int timeout_seconds,
               std::vector<uint16_t>& matches) const;

  size_t rule_count() const { return names_.size(); }
  const std::string& rule_name(uint16_t rule) const { return names_[rule]; }
  const std::vector<std::string>& rule_tags(uint16_t rule) const { return tags_[rule]; }
  const std::vector<std::string>& files() const { return files_; }

 private:
  YaraSet() = default;
  YR_RULES* rules_ = nullptr;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> tags_;
  std::vector<std::string> files_;
  std::unordered_map<const void*, uint16_t> numbers_;  // rule -> its number
};

// "libarchive 3.6.2, libyara 4.2.3, OpenSSL 3.0.x": what scan is built with.
std::string library_versions();

}  // namespace pickaxe::scan
