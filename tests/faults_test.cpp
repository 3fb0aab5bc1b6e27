// Faults, as a user meets them, through the pickaxe binary: a full disk,
// broken first lines, files cut short while read, compressed bombs, huge
// lines, signals, clocks far ahead, floods of buffered events and records.
// Each case checks the exit code, the message and what was found, and the
// bounded ones the child's peak RSS (wait4's rusage).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "test_util.h"

namespace pickaxe::testing {
namespace {

// Peak RSS means something for the release build only: under AddressSanitizer
// shadow memory and the allocator's quarantine come on top.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMeasuresMemory = false;
#else
constexpr bool kMeasuresMemory = true;
#endif
#define EXPECT_RSS_BELOW(child, kilobytes)                              \
  do {                                                                  \
    if (kMeasuresMemory) {                                              \
      EXPECT_LT((child).peak_rss_kb, kilobytes) << (child).peak_rss_kb; \
    }                                                                   \
  } while (0)

struct Child {
  int exit_code = -1;  // 128 + signal when killed
  std::string out, err;
  long peak_rss_kb = 0;
  size_t lines() const {
    size_t n = 0;
    for (char c : out) n += c == '\n';
    return n;
  }
};

// Runs pickaxe with `args`; stdin from `stdin_path` (or /dev/null); the
// shell's `prefix` (ulimit, trap) first when given, and `wrapper` (a command
// that runs the next, such as prlimit) before pickaxe.
Child run(const std::vector<std::string>& args, const std::string& stdin_path = "",
          const std::string& prefix = "", const std::string& wrapper = "") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string out_path = dir / fmt::format("pickaxe-faults-{}.out", ::getpid());
  const std::string err_path = dir / fmt::format("pickaxe-faults-{}.err", ::getpid());
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    ::dup2(in, 0);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(err, 2);
    std::string command = prefix + " exec " + wrapper + " " + PICKAXE_BINARY;
    for (const std::string& arg : args) {
      std::string quoted = "'";
      for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      command += " " + quoted + "'";
    }
    ::execl("/bin/bash", "bash", "-c", command.c_str(), nullptr);
    ::_exit(127);
  }
  Child child;
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  child.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  child.peak_rss_kb = usage.ru_maxrss;
  child.out = read_text(out_path);
  child.err = read_text(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return child;
}

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("pickaxe-faults-{}", ::getpid());
    std::filesystem::create_directories(dir_ / "rules");
    std::ofstream(dir_ / "rules" / "miner.eql") << "process where process.name == \"xmrig\"\n";
    rules_ = (dir_ / "rules").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
  std::vector<std::string> hunt(std::vector<std::string> args) const {
    args.insert(args.begin(),
                {"hunt", "--rules", rules_, "--detection-time", "2026-11-29T00:00:00Z"});
    return args;
  }
  std::filesystem::path dir_;
  std::string rules_;
};

// One miner start a second apart (each its own max_signals window is not
// needed: 220 within 4 minutes, under a 1h interval rule), as NDJSON.
std::string miners(int count, int first = 0) {
  std::string text;
  for (int i = first; i < first + count; ++i)
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":["process"]}},"process":{{"name":"xmrig","pid":{}}},"host":{{"name":"h"}}}})"
        "\n",
        1'700'000'000'000 + int64_t{i} * 300'000, i);
  return text;
}

std::string gzip(const std::string& text) {
  std::string out(compressBound(text.size()) + 64, '\0');
  z_stream z{};
  deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// 1. Every write is checked.
TEST_F(Faults, WriteErrorsAreErrorsWithTheCountNotWritten) {
  std::string events = write("miners.ndjson", miners(220));
  for (const auto& args :
       {hunt({events}), std::vector<std::string>{"query", "process where true", events},
        std::vector<std::string>{"lint", rules_}}) {
    Child full = run(args, "", "exec >/dev/full;");
    EXPECT_EQ(full.exit_code, 1) << args[0] << full.err;
    EXPECT_NE(full.err.find("cannot write the output: No space left on device"), std::string::npos)
        << full.err;
  }
  // A disk that fills part way: what was written is whole lines, and the
  // rest is counted exactly.
  const std::string capped = path("capped.out");
  Child partial =
      run(hunt({events}), "", fmt::format("trap '' XFSZ; ulimit -f 64; exec >{};", capped));
  EXPECT_EQ(partial.exit_code, 1) << partial.err;
  std::string written = read_text(capped);
  size_t whole = static_cast<size_t>(std::count(written.begin(), written.end(), '\n'));
  EXPECT_GT(whole, 0u);
  EXPECT_LT(whole, 220u);
  EXPECT_NE(partial.err.find(fmt::format("{} of 220 alerts were not written", 220 - whole)),
            std::string::npos)
      << partial.err;
}

// 2. A broken first line, an unclosed array, a byte order mark.
TEST_F(Faults, OneBadStartLosesNothingElse) {
  std::string cut = write("cut.ndjson", "{\"@timestamp\": 1, \"process\": {\"name\n" + miners(200));
  Child child = run(hunt({cut}));
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.lines(), 200u) << child.err;
  EXPECT_NE(child.err.find("cut.ndjson:1: malformed JSON"), std::string::npos) << child.err;

  std::string body = miners(30);
  std::string array = "[" + body;
  std::replace(array.begin(), array.end(), '\n', ',');
  array.pop_back();  // no closing ]
  child = run(hunt({write("open.json", array)}));
  EXPECT_EQ(child.lines(), 30u) << child.err;
  EXPECT_NE(child.err.find("the JSON document ends early, not closed"), std::string::npos)
      << child.err;

  child = run(hunt({write("bom.ndjson", "\xEF\xBB\xBF" + miners(5))}));
  EXPECT_EQ(child.lines(), 5u) << child.err;
  child = run(hunt({write("bom.json", "\xEF\xBB\xBF[" + array.substr(1) + "]")}));
  EXPECT_EQ(child.lines(), 30u) << child.err;
}

// 3. A file cut short while hunted (logrotate's copytruncate): no SIGBUS.
TEST_F(Faults, AFileCutShortWhileReadIsReported) {
  std::string big;
  for (int i = 0; i < 1'200'000; ++i)
    big += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"process"}},"process":{{"name":"p{}"}}}})"
        "\n",
        1'700'000'000'000 + i, i % 1000);
  // Cut at several moments: a page that turns to zeros while a line on it is
  // parsed must not reach the parser (it once overran simdjson's buffers).
  for (int delay_ms : {60, 120, 180, 240}) {
    std::string file = write("rotating.ndjson", big);
    const std::string out_path = path("rotating.out"), err_path = path("rotating.err");
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string command = fmt::format("exec {} hunt --no-prefilter --rules {} {} >{} 2>{}",
                                        PICKAXE_BINARY, rules_, file, out_path, err_path);
      ::execl("/bin/bash", "bash", "-c", command.c_str(), nullptr);
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::filesystem::resize_file(file, 1000);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    std::string err = read_text(err_path);
    // The cut came while it read (and is said), or it had read all before,
    // or (on a loaded machine) it began after the cut and read what was left.
    bool reported = err.find("was cut short while it was read") != std::string::npos;
    long events = hunt_summary(err).events;
    // Cut after it was mapped but before its first line was read: no event
    // came of it, which is said, and exit 1.
    const bool nothing = events == 0 && err.find("no event read") != std::string::npos;
    EXPECT_EQ(WEXITSTATUS(status), nothing ? 1 : 0) << err;
    EXPECT_TRUE(reported || events == 1'200'000 || (events >= 0 && events < 20)) << err;
  }
}

// 4. Compressed input streams: a bomb stays small, a cut archive keeps its start.
TEST_F(Faults, CompressedInputStreamsAndKeepsWhatCameBeforeACut) {
  std::string bomb = write("bomb.gz", gzip(std::string(200'000'000, '\0')));
  std::string good = write("good.ndjson", miners(200));
  Child child = run(hunt({bomb, good}));
  EXPECT_EQ(child.exit_code, 1) << child.err;  // the bomb yields no event: said, and exit 1
  EXPECT_NE(child.err.find("bomb.gz: no event read"), std::string::npos) << child.err;
  EXPECT_EQ(child.lines(), 200u) << child.err;
  EXPECT_RSS_BELOW(child, 100'000);
  EXPECT_NE(child.err.find("bomb.gz:1: line of 200000000 bytes is longer than the limit"),
            std::string::npos)
      << child.err;

  std::string packed = gzip(miners(3000));
  std::string cut = write("cut.gz", packed.substr(0, packed.size() / 2));
  child = run(hunt({cut}));
  EXPECT_EQ(child.exit_code, 1) << child.err;  // an input that could not be read whole
  EXPECT_GT(child.lines(), 1000u) << child.err;
  EXPECT_NE(child.err.find("cut.gz: the gzip data ends early"), std::string::npos) << child.err;

  std::string text = miners(3000);
  std::string zst(ZSTD_compressBound(text.size()), '\0');
  zst.resize(ZSTD_compress(zst.data(), zst.size(), text.data(), text.size(), 1));
  child = run(hunt({write("whole.zst", zst), write("cut.zst", zst.substr(0, zst.size() / 2))}));
  EXPECT_GT(child.lines(), 3000u) << child.err;
  EXPECT_NE(child.err.find("cut.zst: the zstd data ends early"), std::string::npos) << child.err;
}

// 5. Results are out while input is quiet; SIGTERM and SIGINT write what is final.
TEST_F(Faults, ResultsFlowOnAStreamAndSignalsWriteWhatIsFinal) {
  for (int signal : {SIGTERM, SIGINT}) {
    const std::string fifo = path(fmt::format("live-{}", signal));
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const std::string out_path = path("live.out"), err_path = path("live.err");
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string command = fmt::format("exec {} hunt --rules {} {} >{} 2>{}", PICKAXE_BINARY,
                                        rules_, fifo, out_path, err_path);
      ::execl("/bin/bash", "bash", "-c", command.c_str(), nullptr);
      ::_exit(127);
    }
    int writer = ::open(fifo.c_str(), O_WRONLY);
    ASSERT_GE(writer, 0);
    // The first event is final only when the next is five minutes later.
    std::string first = miners(1, 0), later = miners(1, 2);
    ASSERT_EQ(::write(writer, first.data(), first.size()), static_cast<ssize_t>(first.size()));
    ASSERT_EQ(::write(writer, later.data(), later.size()), static_cast<ssize_t>(later.size()));
    std::string seen;
    for (int wait = 0; wait < 100 && seen.empty(); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      seen = read_text(out_path);
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), '\n'), 1) << "no alert while the pipe is open";
    ::kill(pid, signal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(writer);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 128 + signal);
    std::string out = read_text(out_path), err = read_text(err_path);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << "the held event's alert is lost";
    EXPECT_NE(err.find("hunt: 1 rules, 2 events"), std::string::npos) << err;
    EXPECT_NE(err.find(signal == SIGTERM ? "stopped by SIGTERM" : "stopped by SIGINT"),
              std::string::npos)
        << err;
  }
}

// 6. --max-line-bytes bounds memory on stdin, in archives and in text sources.
TEST_F(Faults, TheLineCapHoldsOnEveryPath) {
  // The inputs are written, then let go: a child's peak RSS counts the
  // pages it shares with this process when forked.
  std::string stdin_file, huge_gz;
  {
    std::string huge = std::string(30'000'000, 'x') + "\n" + miners(10);
    stdin_file = write("huge.ndjson", huge);
    huge_gz = write("huge.gz", gzip(huge));
  }
  Child child = run(hunt({"--max-line-bytes", "1000000", "-"}), stdin_file);
  EXPECT_EQ(child.lines(), 10u) << child.err;
  EXPECT_RSS_BELOW(child, 60'000);
  EXPECT_NE(child.err.find("<stdin>:1: line of 30000000 bytes"), std::string::npos) << child.err;

  child = run(hunt({"--max-line-bytes", "1000000", huge_gz}));
  EXPECT_EQ(child.lines(), 10u) << child.err;
  EXPECT_RSS_BELOW(child, 60'000);

  std::string audit_log =
      write("audit.log",
            "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes "
            "exit=0 comm=\"xmrig\" exe=\"/tmp/xmrig\" proctitle=" +
                std::string(30'000'000, 'A') + "\n");
  child = run(hunt({"--max-line-bytes", "1000000", audit_log}));
  EXPECT_RSS_BELOW(child, 60'000);
  EXPECT_NE(child.err.find("audit.log:1: line of"), std::string::npos) << child.err;
}

// 7. One event dated 2100 does not blind the stream.
TEST_F(Faults, AClockFarAheadDoesNotTurnOffOrdering) {
  std::string text;
  for (int i = 0; i < 20; ++i) {
    int64_t t = 1'700'000'000'000 + int64_t{i} * 1000;
    if (i == 5)
      text +=
          R"({"@timestamp":"2100-01-01T00:00:00Z","event":{"category":"process"},"host":{"name":"h"},"process":{"name":"xmrig"}})"
          "\n";
    // Each connection arrives before the process that made it: reordering finds them.
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"network"}},"host":{{"name":"h"}},"destination":{{"port":3333}}}})"
        "\n",
        t + 500);
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"process"}},"host":{{"name":"h"}},"process":{{"name":"xmrig"}}}})"
        "\n",
        t);
  }
  Child child = run({"query",
                     "sequence by host.name with maxspan=5s [process where process.name == "
                     "\"xmrig\"] [network where destination.port == 3333]",
                     write("future.ndjson", text)});
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.lines(), 20u) << child.err;
  EXPECT_NE(child.err.find("held apart until its time caught up: 1"), std::string::npos)
      << child.err;
}

// 8. The reorder buffer has a byte budget.
TEST_F(Faults, TheReorderBufferHasAByteBudget) {
  std::string text;
  const std::string padding(2000, 'p');
  for (int i = 0; i < 20'000; ++i)
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":["process"]}},"process":{{"name":"xmrig","args":["{}"]}},"host":{{"name":"h"}}}})"
        "\n",
        1'700'000'000'000 + int64_t{(i * 7919) % 20'000}, padding);
  std::string events = write("shuffled.ndjson", text);
  Child bounded = run({"query", "--max-lateness", "unbounded", "--max-buffer-bytes", "4000000",
                       "process where process.name == \"xmrig\"", events});
  Child unbounded = run({"query", "--max-lateness", "unbounded", "--max-buffer-bytes", "1000000000",
                         "process where process.name == \"xmrig\"", events});
  EXPECT_EQ(bounded.lines(), 20'000u) << bounded.err;  // released early, never dropped
  EXPECT_NE(bounded.err.find("before their time (--max-buffer-bytes):"), std::string::npos)
      << bounded.err;
  if (kMeasuresMemory) {
    EXPECT_LT(bounded.peak_rss_kb + 20'000, unbounded.peak_rss_kb)
        << bounded.peak_rss_kb << " KB against " << unbounded.peak_rss_kb << " KB";
  }
}

// 9. Decoders: one auditd event of 200 000 records; a CloudTrail file on one line.
TEST_F(Faults, DecodersKeepTheirMemoryBounded) {
  std::string many, cloudtrail;  // written, then let go (see TheLineCapHoldsOnEveryPath)
  {
    std::string audit =
        "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0 "
        "items=2 ppid=1 pid=2 auid=0 uid=0 comm=\"xmrig\" exe=\"/tmp/xmrig\" key=(null)\n";
    for (int i = 0; i < 200'000; ++i)
      audit += fmt::format(
          "type=PATH msg=audit(1700000000.000:1): item={} name=\"/tmp/f{}\" inode=1 dev=00:00 "
          "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n",
          i, i);
    audit += "type=EOE msg=audit(1700000000.000:1):\n";
    many = write("many.log", audit);
    std::string records = "{\"Records\": [";
    for (int i = 0; i < 50'000; ++i)
      records += fmt::format(
          R"({}{{"eventTime":"2024-01-01T00:00:{:02}Z","eventName":"{}","eventSource":"ec2.amazonaws.com","requestParameters":{{"pad":"{}"}}}})",
          i ? "," : "", i % 60, i % 1000 == 0 ? "RunInstances" : "DescribeInstances",
          std::string(300, 'x'));
    records += "]}";
    cloudtrail = write("cloudtrail.json", records);
  }
  Child child = run(hunt({many}));
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.lines(), 1u) << child.err;
  EXPECT_RSS_BELOW(child, 150'000);
  EXPECT_NE(child.err.find("its event already has 4096 records"), std::string::npos) << child.err;

  std::ofstream(dir_ / "rules" / "ec2.eql") << "any where event.action == \"RunInstances\"\n";
  child = run(hunt({"--max-line-bytes", "1000000", cloudtrail}));
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.lines(), 50u) << child.err;
  EXPECT_RSS_BELOW(child, 100'000);
}

// 10. Files and folders that cannot be read say why.
// A limit on threads (a container's pids limit, ulimit -u) leaves fewer
// threads, with the same alerts; it aborted the run.
TEST_F(Faults, ALimitOnThreadsLeavesFewerThreadsAndTheSameAlerts) {
  if (!kMeasuresMemory)  // the sanitizer's leak check needs a thread of its own at exit
    GTEST_SKIP() << "under AddressSanitizer, whose leak check the limit on threads stops";
  if (std::system("command -v prlimit >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "prlimit (util-linux) is not installed";
  const bool root = ::geteuid() == 0;
  if (root && std::system("command -v setpriv >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "running as root without setpriv: root is not held to a limit on threads";
  // As root, the limit holds once the run is another user's (nobody).
  const std::string wrapper = std::string("prlimit --nproc=2:2 ") +
                              (root ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "");
  std::filesystem::permissions(
      dir_, std::filesystem::perms::others_read | std::filesystem::perms::others_exec,
      std::filesystem::perm_options::add);
  const std::string input = write("miners.ndjson", miners(300));
  const Child one = run(hunt({"--threads", "1", input}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(one.lines(), 300u);
  for (const char* threads : {"2", "4"}) {
    const Child limited = run(hunt({"--threads", threads, input}), "", "", wrapper);
    // The limit counts every process of the user: where others run as
    // nobody, pickaxe itself cannot start.
    if (limited.err.starts_with("prlimit:") || limited.err.starts_with("setpriv:"))
      GTEST_SKIP() << "pickaxe could not start under the limit: " << limited.err;
    EXPECT_EQ(limited.exit_code, 0) << threads << ": " << limited.err;
    EXPECT_EQ(limited.out, one.out) << threads;
  }
}

TEST_F(Faults, UnreadableInputsSayWhy) {
  Child child = run(hunt({path("missing.ndjson")}));
  EXPECT_EQ(child.exit_code, 1);
  EXPECT_NE(child.err.find("missing.ndjson: cannot read the file (No such file or directory)"),
            std::string::npos)
      << child.err;
  std::filesystem::create_directories(dir_ / "logs" / "locked");
  write("logs/good.ndjson", miners(3));
  write("logs/locked/hidden.ndjson", miners(3));
  std::filesystem::permissions(dir_ / "logs" / "locked", std::filesystem::perms::none);
  if (::access(path("logs/locked").c_str(), R_OK) == 0) {
    std::filesystem::permissions(dir_ / "logs" / "locked", std::filesystem::perms::owner_all);
    GTEST_SKIP() << "running as root: a folder without permissions can still be read";
  }
  child = run(hunt({path("logs")}));
  std::filesystem::permissions(dir_ / "logs" / "locked", std::filesystem::perms::owner_all);
  EXPECT_EQ(child.exit_code, 1);
  EXPECT_EQ(child.lines(), 3u);
  EXPECT_NE(child.err.find("locked: cannot read the folder: Permission denied"), std::string::npos)
      << child.err;
}

// 10. Smaller things: a flood of keys, shapes that are not what they claim,
// epoch seconds, auditd values kept as written.
TEST_F(Faults, AFloodOfKeysDoesNotBlockLaterSequences) {
  std::string text;
  int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 2000; ++i)  // 2000 hosts begin and never finish
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"process"}},"host":{{"name":"flood-{}"}},"process":{{"name":"xmrig"}}}})"
        "\n",
        t++, i);
  for (
      const char* line :
      {R"({"@timestamp":1700000005000,"event":{"category":"process"},"host":{"name":"real"},"process":{"name":"xmrig"}})",
       R"({"@timestamp":1700000005500,"event":{"category":"network"},"host":{"name":"real"},"destination":{"port":3333}})"})
    text += std::string(line) + "\n";
  Child child = run({"query", "--max-sequence-state", "100",
                     "sequence by host.name [process where process.name == \"xmrig\"] [network "
                     "where destination.port == 3333]",
                     write("flood.ndjson", text)});
  EXPECT_EQ(child.exit_code, 0) << child.err;
  EXPECT_EQ(child.lines(), 1u) << child.err;
  EXPECT_NE(child.out.find("\"real\""), std::string::npos);
  EXPECT_NE(child.err.find("partial sequences and samples dropped at --max-sequence-state"),
            std::string::npos)
      << child.err;
}

// Sample keys that never complete are state too. Past 4096 in memory they
// go to disk: memory stays flat however many keys come, none is dropped, and
// a key that completes later still gives its sample. Under a lower
// --max-sequence-state the oldest incomplete keys are dropped instead, and
// counted.
TEST_F(Faults, AFloodOfSampleKeysStaysBounded) {
  // The real process first (its key goes to disk with the flood, and its
  // network event, last, finds it there) or just before its network event.
  auto flood = [&](const std::string& name, int keys, bool real_first) {
    int64_t t = 1'700'000'000'000;
    const std::string real =
        R"({{"@timestamp":{},"event":{{"category":"process"}},"host":{{"name":"real"}},"process":{{"pid":1,"name":"xmrig"}}}})"
        "\n";
    std::string text = real_first ? fmt::format(fmt::runtime(real), t) : std::string();
    for (int i = 0; i < keys; ++i)  // processes with a first step only
      text += fmt::format(
          R"({{"@timestamp":{},"event":{{"category":"process"}},"host":{{"name":"flood"}},"process":{{"pid":{},"name":"xmrig","args":["-o","pool.example:3333","--donate-level","1","--threads","8"]}}}})"
          "\n",
          t += 1000, i);  // a second apart: the reorder buffer holds few, the samples all
    if (!real_first) text += fmt::format(fmt::runtime(real), t + 500);
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"network"}},"host":{{"name":"real"}},"process":{{"pid":1}},"destination":{{"port":3333}}}})"
        "\n",
        t + 1000);
    return write(name, text);  // (the text goes: a child's peak RSS counts what it shared)
  };
  const std::string small = flood("sample-flood-small.ndjson", 50'000, true);
  const std::string large = flood("sample-flood.ndjson", 250'000, true);
  const std::string late_real = flood("sample-flood-late.ndjson", 250'000, false);
  const std::string query =
      "sample by host.name, process.pid [process where process.name == \"xmrig\"] [network "
      "where destination.port == 3333]";
  const std::string dropped = "partial sequences and samples dropped at --max-sequence-state";
  Child capped = run({"query", "--max-sequence-state", "1000", query, late_real});
  EXPECT_EQ(capped.exit_code, 0) << capped.err;
  EXPECT_EQ(capped.lines(), 1u) << capped.err;  // the real sample
  EXPECT_NE(capped.out.find("\"real\""), std::string::npos);
  EXPECT_NE(capped.err.find(dropped), std::string::npos) << capped.err;
  Child few = run({"query", query, small});
  Child many = run({"query", query, large});
  for (const Child* child : {&few, &many}) {
    EXPECT_EQ(child->exit_code, 0) << child->err;
    EXPECT_EQ(child->lines(), 1u) << child->err;
    EXPECT_NE(child->out.find("\"real\""), std::string::npos);
    EXPECT_EQ(child->err.find(dropped), std::string::npos) << child->err;
  }
  // 200 000 more keys held in memory would take about 80 MB more.
  if (kMeasuresMemory) {
    EXPECT_LT(many.peak_rss_kb, few.peak_rss_kb + 15'000)
        << many.peak_rss_kb << " KB against " << few.peak_rss_kb << " KB";
  }
}

// 5b. Documents of events held in engine state, from input that cannot be
// read again (stdin), wait on disk, not in memory; the alerts are the same.
TEST_F(Faults, HeldDocumentsFromStdinWaitOnDisk) {
  const std::string padding(3000, 'p');
  std::string text;
  int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 30'000; ++i)  // 30 000 processes, each waiting for its network step
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"process"}},"host":{{"name":"h"}},"process":{{"pid":{},"name":"xmrig"}},"labels":{{"padding":"{}"}}}})"
        "\n",
        t += 1000, i, padding);           // a second apart: few wait in the reorder buffer
  for (int i = 0; i < 30'000; i += 3000)  // ten of them complete
    text += fmt::format(
        R"({{"@timestamp":{},"event":{{"category":"network"}},"host":{{"name":"h"}},"process":{{"pid":{}}},"destination":{{"port":3333}}}})"
        "\n",
        t += 1000, i);
  const std::string input = write("held.ndjson", text);
  std::string().swap(text);  // a child's peak RSS counts what it shared with this process
  const std::string query =
      "sample by host.name, process.pid [process where process.name == \"xmrig\"] [network "
      "where destination.port == 3333]";
  Child from_file = run({"query", query, input});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.lines(), 10u) << from_file.err;
  Child from_stdin = run({"query", query, "-"}, input);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_file.out);  // documents read back from the spool
  // Without room for the spool, documents stay in memory, and the user is told.
  Child no_spool = run({"query", query, "-"}, input, "TMPDIR=" + path("no-such-folder"));
  ASSERT_EQ(no_spool.exit_code, 0) << no_spool.err;
  EXPECT_EQ(no_spool.out, from_file.out);
  EXPECT_NE(no_spool.err.find("documents of held events kept in memory"), std::string::npos)
      << no_spool.err;
  EXPECT_NE(no_spool.err.find("no-such-folder"), std::string::npos) << no_spool.err;
  // The sample's 30 000 keys could not go to disk either: they stayed in memory.
  EXPECT_NE(no_spool.err.find("sample keys that could not go to disk, kept in memory from then on"),
            std::string::npos)
      << no_spool.err;
  EXPECT_EQ(from_stdin.err.find("sample keys"), std::string::npos) << from_stdin.err;
  if (kMeasuresMemory) {  // 90 MB of documents held: on disk, not in the process
    EXPECT_LT(from_stdin.peak_rss_kb + 50'000, no_spool.peak_rss_kb)
        << from_stdin.peak_rss_kb << " KB against " << no_spool.peak_rss_kb << " KB";
  }
}

TEST_F(Faults, ShapesAndUnitsThatAreNotWhatTheySeem) {
  Child child = run(hunt({write("records.json", R"({"Records": {"eventName": "RunInstances"}})")}));
  EXPECT_NE(child.err.find("Records is not an array"), std::string::npos) << child.err;

  child = run(hunt({write(
      "seconds.ndjson",
      R"({"@timestamp":1700000000,"event":{"category":["process"]},"process":{"name":"xmrig"}})"
      "\n")}));
  EXPECT_EQ(child.lines(), 1u);
  EXPECT_NE(child.err.find("as epoch seconds read as milliseconds would be"), std::string::npos)
      << child.err;

  // A key given twice: the last value counts.
  child = run(
      {"query", "process where process.name == \"bash\" or process.name == \"zzz\"",
       write(
           "twice.ndjson",
           R"({"@timestamp":1,"event":{"category":"process"},"process":{"name":"bash","name":"xmrig","name":"zzz"}})"
           "\n")});
  EXPECT_EQ(child.lines(), 1u) << child.err;
  child = run({"query", "process where process.name == \"bash\"", path("twice.ndjson")});
  EXPECT_EQ(child.lines(), 0u) << child.err;

  child = run(hunt({write("title.log",
                          "type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=59 "
                          "success=yes exit=0 pid=9 comm=\"xmrig\" exe=\"/tmp/xmrig\"\n"
                          "type=PROCTITLE msg=audit(1700000000.000:7): proctitle=xmrig-plain\n"
                          "type=EOE msg=audit(1700000000.000:7):\n")}));
  EXPECT_EQ(child.lines(), 1u) << child.err;
  EXPECT_NE(child.err.find("proctitle is neither quoted nor hex; kept as written"),
            std::string::npos)
      << child.err;
}

// A regexp's work per byte is bounded: lint warns of costly ones, and one
// too complex to run is refused, as Elasticsearch refuses it.
TEST_F(Faults, CostlyRegexpsAreFlaggedAndTheWorstRefused) {
  std::ofstream(path("costly.eql")) << "process where process.name regex \"(.*a){500}b\"\n";
  Child child = run({"lint", path("costly.eql")});
  EXPECT_EQ(child.exit_code, 0) << child.out;
  EXPECT_NE(child.out.find("warning[regex-cost]: this regular expression compiles to"),
            std::string::npos)
      << child.out;
  std::ofstream(path("worst.eql")) << "process where process.name regex \"(.*a){1000}b\"\n";
  child = run({"lint", path("worst.eql")});
  EXPECT_EQ(child.exit_code, 1);
  EXPECT_NE(child.out.find("error[regex-too-complex]"), std::string::npos) << child.out;
  child = run({"query", "process where process.name regex \"(.*a){1000}b\"",
               write("names.ndjson", miners(1))});
  EXPECT_EQ(child.exit_code, 1);
  EXPECT_NE(child.err.find("regular expression too complex"), std::string::npos) << child.err;
}

}  // namespace
}  // namespace pickaxe::testing
