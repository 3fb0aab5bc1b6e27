// The pipeline flows one way: a stage's sources include only their own
// folder, the shared folders (util, diag, event) and stages before them, in
// the order docs/ARCHITECTURE.md gives. CMake links each stage's library to
// earlier stages only; this test checks every #include.
#include <algorithm>
#include <filesystem>
#include <regex>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

const std::vector<std::string> kStages = {
    "util",  "diag",      "event", "eql",  "ingest", "source",   "match", "sigma",
    "rules", "correlate", "lint",  "hunt", "export", "scan", "validate", "fleet", "cli"};

// The includes in `text` that reach a later stage than `stage`.
std::vector<std::string> upward_includes(const std::string& stage, const std::string& text) {
  static const std::regex include(R"re(#include "([a-z_]+)/)re");
  const auto rank = [](const std::string& name) {
    return std::find(kStages.begin(), kStages.end(), name) - kStages.begin();
  };
  std::vector<std::string> upward;
  for (std::sregex_iterator it(text.begin(), text.end(), include), end; it != end; ++it) {
    const std::string target = (*it)[1];
    if (std::find(kStages.begin(), kStages.end(), target) == kStages.end()) continue;
    if (rank(target) > rank(stage)) upward.push_back(target);
  }
  return upward;
}

TEST(Layering, TheCheckerSeesAnIncludeThatReachesUp) {
  EXPECT_EQ(upward_includes("event", "#include \"match/expression.h\"\n"),
            std::vector<std::string>{"match"});
  EXPECT_TRUE(upward_includes("match", "#include \"event/event.h\"\n#include <vector>\n").empty());
}

TEST(Layering, NoStageIncludesALaterOne) {
  const std::filesystem::path src = std::filesystem::path(PICKAXE_SOURCE_DIR) / "src";
  size_t files = 0;
  std::string problems;
  for (const auto& folder : std::filesystem::directory_iterator(src)) {
    if (!folder.is_directory()) continue;
    const std::string stage = folder.path().filename().string();
    EXPECT_NE(std::find(kStages.begin(), kStages.end(), stage), kStages.end())
        << "src/" << stage << " is not a stage of docs/ARCHITECTURE.md";
    for (const auto& entry : std::filesystem::recursive_directory_iterator(folder.path())) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp" && ext != ".in" && ext != ".inc") continue;
      ++files;
      for (const std::string& target : upward_includes(stage, read_text(entry.path().string())))
        problems += entry.path().lexically_relative(src).string() + " includes " + target + "/\n";
    }
  }
  EXPECT_GT(files, 50u);
  EXPECT_TRUE(problems.empty()) << problems;
}

}  // namespace
}  // namespace pickaxe::testing
