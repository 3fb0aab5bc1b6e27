#include "scan/yara_set.h"

#include <archive.h>
#include <openssl/crypto.h>
#include <yara.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>

namespace pickaxe::scan {

namespace {

struct CompileContext {
  std::vector<std::string>* problems;
  bool errors = false;
};

void on_compile_problem(int level, const char* file, int line, const YR_RULE*, const char* message,
                        void* user) {
  auto* context = static_cast<CompileContext*>(user);
  if (level == YARA_ERROR_LEVEL_ERROR) context->errors = true;
  context->problems->push_back(fmt::format("{}:{}: {}: {}", file ? file : "?", line,
                                           level == YARA_ERROR_LEVEL_ERROR ? "error" : "warning",
                                           message));
}

bool is_yara_file(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yar" || ext == ".yara";
}

struct ScanContext {
  const std::unordered_map<const void*, uint16_t>* numbers;
  std::vector<uint16_t>* matches;
};

int on_scan_message(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    auto* context = static_cast<ScanContext*>(user);
    auto found = context->numbers->find(data);
    if (found != context->numbers->end()) context->matches->push_back(found->second);
  }
  return CALLBACK_CONTINUE;
}

}  // namespace

std::unique_ptr<YaraSet> YaraSet::compile(const std::vector<std::string>& paths,
                                          std::vector<std::string>& problems) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      for (auto it = std::filesystem::recursive_directory_iterator(path, error);
           !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error))
        if (it->is_regular_file(error) && is_yara_file(it->path())) files.push_back(it->path());
      if (error) problems.push_back(fmt::format("{}: cannot list: {}", path, error.message()));
      continue;
    }
    if (!std::filesystem::exists(path, error)) {
      problems.push_back(fmt::format("{}: no such file or folder", path));
      continue;
    }
    files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  if (!problems.empty()) return nullptr;
  if (files.empty()) {
    for (const std::string& path : paths)
      problems.push_back(fmt::format("{}: holds no .yar or .yara file", path));
    return nullptr;
  }

  std::unique_ptr<YaraSet> set(new YaraSet());
  if (yr_initialize() != ERROR_SUCCESS) {
    problems.push_back("libyara could not be initialised");
    return nullptr;
  }
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS) {
    yr_finalize();
    problems.push_back("libyara could not create a compiler");
    return nullptr;
  }
  CompileContext context{&problems};
  yr_compiler_set_callback(compiler, on_compile_problem, &context);
  for (const std::string& file : files) {
    FILE* handle = std::fopen(file.c_str(), "r");
    if (!handle) {
      problems.push_back(fmt::format("{}: cannot open", file));
      context.errors = true;
      continue;
    }
    // Each file is its own namespace, so that two files may reuse a rule name.
    yr_compiler_add_file(compiler, handle, file.c_str(), file.c_str());
    std::fclose(handle);
    // After an error libyara's compiler takes no more files.
    if (context.errors) break;
  }
  if (!context.errors && yr_compiler_get_rules(compiler, &set->rules_) != ERROR_SUCCESS) {
    problems.push_back("libyara could not build the compiled rules");
    context.errors = true;
  }
  yr_compiler_destroy(compiler);
  if (context.errors) {
    if (set->rules_) yr_rules_destroy(set->rules_);
    set->rules_ = nullptr;
    yr_finalize();
    return nullptr;
  }
  YR_RULE* rule = nullptr;
  yr_rules_foreach(set->rules_, rule) {
    set->numbers_[rule] = static_cast<uint16_t>(set->names_.size());
    set->names_.push_back(rule->identifier);
    std::vector<std::string> tags;
    const char* tag = nullptr;
    yr_rule_tags_foreach(rule, tag) tags.push_back(tag);
    set->tags_.push_back(std::move(tags));
  }
  set->files_ = std::move(files);
  return set;
}

YaraSet::~YaraSet() {
  if (rules_) {
    yr_rules_destroy(rules_);
    yr_finalize();
  }
}

YaraSet::Outcome YaraSet::scan(const uint8_t* data, size_t size, int timeout_seconds,
                               std::vector<uint16_t>& matches) const {
  ScanContext context{&numbers_, &matches};
  const int result = yr_rules_scan_mem(rules_, data, size, SCAN_FLAGS_FAST_MODE, on_scan_message,
                                       &context, timeout_seconds);
  std::sort(matches.begin(), matches.end());
  if (result == ERROR_SUCCESS) return Outcome::Scanned;
  return result == ERROR_SCAN_TIMEOUT ? Outcome::TimedOut : Outcome::Failed;
}

std::string library_versions() {
  std::string archive = archive_version_string();  // "libarchive 3.6.2"
  return fmt::format("{}, libyara {}, {}", archive, YR_VERSION, OpenSSL_version(OPENSSL_VERSION));
}

}  // namespace pickaxe::scan
