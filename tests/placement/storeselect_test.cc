// storeselect, run as a program: its output agrees with the library, and every usage mistake
// is one line on stderr with exit status 2.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "locator/placement/placement.h"

extern char** environ;

namespace thrifty::placement {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out;
  std::string err;
};

fs::path Binary() {
  if (const char* bin = std::getenv("THRIFTY_BIN")) return fs::path(bin) / "storeselect";
  // Run by hand from build/tests: the tools sit in build/bin.
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "bin" / "storeselect";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs storeselect with `args`, `input` on its standard input.
Result RunStoreselect(const std::vector<std::string>& args, const std::string& input = "") {
  const fs::path dir =
      fs::temp_directory_path() / ("storeselect_test." + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in = dir / "in", out = dir / "out", err = dir / "err";
  std::ofstream(in, std::ios::binary) << input;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const std::string binary = Binary().string();
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  Result result;
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "cannot run " << binary;
  if (rc == 0) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status)) result.status = WEXITSTATUS(status);
    result.out = ReadFile(out);
    result.err = ReadFile(err);
  }
  fs::remove_all(dir);
  return result;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

const char* kNodes = "10.0.0.1:11211,10.0.0.2:11211=2,10.0.0.3:7000,cache.example:7001=0.5";

std::unique_ptr<Placement> Library(const std::string& spec) {
  auto p = MakePlacement(spec);
  p->add("10.0.0.1:11211", 1);
  p->add("10.0.0.2:11211", 2);
  p->add("10.0.0.3:7000", 1);
  p->add("cache.example:7001", 0.5);
  return p;
}

TEST(Storeselect, KnownMappingAgreesWithTheLibrary) {
  const Result r = RunStoreselect({"--nodes", "a:1,b:2,c:11211=2", "foo", "bar", "baz"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // Pinned: ketama as libmemcached maps these keys (see ketama_libmemcached_test).
  EXPECT_EQ(r.out, "foo\ta:1\nbar\tc:11211\nbaz\tc:11211\n");

  std::vector<std::string> args = {"--nodes", kNodes};
  for (int i = 0; i < 200; ++i) args.push_back("key-" + std::to_string(i));
  const auto lines = Lines(RunStoreselect(args).out);
  const auto library = Library("ketama");
  ASSERT_EQ(lines.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    EXPECT_EQ(lines[i], key + "\t" + library->owner(key));
  }
}

TEST(Storeselect, ReadsKeysFromStandardInput) {
  std::string input;
  for (int i = 0; i < 1000; ++i)
    input += "user:" + std::to_string(i) + (i % 10 == 0 ? "\r\n" : "\n");
  input += "\n\nlast-without-newline";
  const Result r =
      RunStoreselect({"--nodes", kNodes, "--placement", "rendezvous", "--hash", "siphash"}, input);
  EXPECT_EQ(r.status, 0) << r.err;
  const auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1001u);
  const auto library = Library("rendezvous/siphash");
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "user:" + std::to_string(i);
    ASSERT_EQ(lines[i], key + "\t" + library->owner(key));
  }
  EXPECT_EQ(lines[1000], "last-without-newline\t" + library->owner("last-without-newline"));
}

TEST(Storeselect, ReplicasPrintThePreferenceList) {
  for (const char* spec : {"ketama", "rendezvous/xxh3"}) {
    const Result r =
        RunStoreselect({"--nodes", kNodes, "--placement", spec, "-n", "3", "a", "b", "c"});
    EXPECT_EQ(r.status, 0) << r.err;
    const auto lines = Lines(r.out);
    ASSERT_EQ(lines.size(), 3u);
    const auto library = Library(spec);
    for (size_t i = 0; i < 3; ++i) {
      const std::string key(1, static_cast<char>('a' + i));
      const auto list = library->preference_list(key, 3);
      EXPECT_EQ(lines[i], key + "\t" + list[0] + "," + list[1] + "," + list[2]) << spec;
    }
  }
  // More replicas than nodes: every node once.
  const auto all = Lines(RunStoreselect({"--nodes", "a:1,b:1", "-n=5", "k"}).out);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0] == "k\ta:1,b:1" || all[0] == "k\tb:1,a:1") << all[0];
}

TEST(Storeselect, StatsCountKeysPerNode) {
  std::string input;
  for (int i = 0; i < 20000; ++i) input += "k" + std::to_string(i) + "\n";
  const Result r = RunStoreselect({"--nodes", kNodes, "--placement=jump", "--stats"}, "");
  EXPECT_EQ(r.status, 2) << "jump takes weight 1 only";
  const Result s = RunStoreselect({"--nodes", "a:1,b:2,c:3=3", "--stats"}, input);
  EXPECT_EQ(s.status, 0) << s.err;
  const auto lines = Lines(s.out);
  ASSERT_EQ(lines.size(), 5u) << s.out;
  EXPECT_EQ(lines[0], "node\tweight\tkeys\tshare");
  const auto library = MakePlacement("ketama");
  library->add("a:1");
  library->add("b:2");
  library->add("c:3", 3);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 20000; ++i) ++counts[library->owner_index("k" + std::to_string(i))];
  const char* names[] = {"a:1", "b:2", "c:3"};
  const char* weights[] = {"1", "1", "3"};
  for (int i = 0; i < 3; ++i) {
    std::ostringstream share;
    share.setf(std::ios::fixed);
    share.precision(2);
    share << 100.0 * counts[i] / 20000;
    EXPECT_EQ(lines[1 + i], std::string(names[i]) + "\t" + weights[i] + "\t" +
                                std::to_string(counts[i]) + "\t" + share.str() + "%");
  }
  EXPECT_EQ(lines[4].rfind("keys 20000, nodes 3, mean 6666.67, max/mean ", 0), 0u) << lines[4];
  EXPECT_NE(lines[4].find("std dev "), std::string::npos);
}

TEST(Storeselect, BadUsageIsOneLineAndStatus2) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"key"},
      {"--nodes", ""},
      {"--nodes", "a:0"},
      {"--nodes", "a:65536"},
      {"--nodes", "a"},
      {"--nodes", "a:1=0"},
      {"--nodes", "a:1=-2"},
      {"--nodes", "a:1,,b:2"},
      {"--nodes", "a:1,a:1"},
      {"--nodes", "a:1", "--placement", "maglev"},
      {"--nodes", "a:1", "--hash", "crc32"},
      {"--nodes", "a:1", "--hash", "xxh3"},  // ketama: md5 only
      {"--nodes", "a:1", "--placement", "jump", "--hash"},
      {"--nodes", "a:1", "-n", "0"},
      {"--nodes", "a:1", "-n", "three"},
      {"--nodes", "a:1", "--bogus"},
      {"--nodes", "a:1", "--flagfile=/dev/null"},
      {"--nodes", "a:1", "--stats=maybe"},
      {"--nodes", "a:1=2", "--placement", "modulo"},
  };
  for (const auto& args : cases) {
    std::string what;
    for (const auto& a : args) what += "'" + a + "' ";
    const Result r = RunStoreselect(args, "k\n");
    EXPECT_EQ(r.status, 2) << what;
    EXPECT_EQ(r.out, "") << what;
    const auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << what << "stderr: " << r.err;
    EXPECT_EQ(lines[0].rfind("storeselect: ", 0), 0u) << what << lines[0];
  }
  EXPECT_EQ(RunStoreselect({"--nodes", "a:0"}).err,
            "storeselect: bad node 'a:0': port must be 1..65535\n");
  EXPECT_EQ(RunStoreselect({"--nodes", "a:1", "--bogus"}).err,
            "storeselect: unknown flag --bogus (see --help)\n");
}

TEST(Storeselect, HelpListsOnlyItsOwnFlags) {
  const Result r = RunStoreselect({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.rfind("usage: storeselect --nodes HOST:PORT[=WEIGHT],...", 0), 0u) << r.out;
  for (const char* flag : {"--nodes", "--placement", "--hash", "-n N", "--stats"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  for (const char* other : {"flagfile", "fromenv", "helpxml", "v="}) {
    EXPECT_EQ(r.out.find(other), std::string::npos) << other;
  }
  EXPECT_EQ(RunStoreselect({"-h"}).out, r.out);
}

}  // namespace
}  // namespace thrifty::placement
