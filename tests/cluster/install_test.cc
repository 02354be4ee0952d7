// `cmake --install` of this build into a temporary prefix, and examples/client_app built out of
// tree against that prefix alone, once with find_package(thrifty) and once with pkg-config;
// both programs then put and get keys on a storeserver started from the prefix's bin/.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Describe(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return cmd + "\n  exit " + std::to_string(r.status) + "\n  stdout: " + r.out.substr(0, 4000) +
         "\n  stderr: " + r.err.substr(0, 4000);
}

// Runs argv (a program found on PATH: through env) with `vars` (NAME=VALUE) in its environment.
CommandResult RunWithEnv(const std::vector<std::string>& vars, const std::vector<std::string>& argv,
                  int timeout_ms, std::string* described) {
  std::vector<std::string> full = {"/usr/bin/env"};
  full.insert(full.end(), vars.begin(), vars.end());
  full.insert(full.end(), argv.begin(), argv.end());
  CommandResult result = RunCommand(full, "", timeout_ms);
  *described = Describe(full, result);
  return result;
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

TEST(Install, ExampleBuildsAgainstThePrefixAloneAndTalksToAnInstalledServer) {
  const std::string sanitizer = Env("THRIFTY_SANITIZER");
  if (!sanitizer.empty()) {
    GTEST_SKIP() << "this build's libraries are instrumented with " << sanitizer
                 << ": a program linking them needs the same compiler, flags and sanitizer "
                    "runtime, which neither the CMake package nor the .pc file carries. The "
                    "Release build runs this test.";
  }
  const std::string cmake = Env("THRIFTY_CMAKE"), cxx = Env("THRIFTY_CXX");
  const std::string build = Env("THRIFTY_BUILD"), source = Env("THRIFTY_SOURCE");
  const std::string libdir = Env("THRIFTY_INSTALL_LIBDIR");
  ASSERT_FALSE(cmake.empty() || cxx.empty() || build.empty() || source.empty() || libdir.empty())
      << "run by ctest, which sets THRIFTY_CMAKE, THRIFTY_CXX, THRIFTY_BUILD, THRIFTY_SOURCE "
         "and THRIFTY_INSTALL_LIBDIR";

  TempDir tmp;  // removed last, after the server below is killed
  const std::string prefix = tmp.path() + "/prefix", src = tmp.path() + "/src";
  std::string what;

  // 1. Install this build.
  CommandResult r = RunWithEnv({}, {cmake, "--install", build, "--prefix", prefix}, 60000, &what);
  ASSERT_EQ(r.status, 0) << what;
  for (const std::string& file : std::vector<std::string>{
           "include/thrifty/diststore/client/cluster_client.h", "include/thrifty/locator/service/ring.h",
        "include/thrifty/gen-cpp/diststore/Store.h", "include/thrifty/gen-cpp/locator/locator_types.h",
        libdir + "/libthrifty_client.a", libdir + "/libthrifty_locator_client.a",
        libdir + "/cmake/thrifty/thriftyConfig.cmake", libdir + "/cmake/thrifty/thriftyConfigVersion.cmake",
        libdir + "/pkgconfig/thrifty-client.pc", "share/thrifty/locator.thrift",
        "share/thrifty/diststore.thrift"}) {
    EXPECT_TRUE(fs::is_regular_file(prefix + "/" + file)) << file << " is not installed";
  }
  for (const std::string& tool : Split(Env("THRIFTY_TOOLS"), ',')) {
    EXPECT_TRUE(fs::is_regular_file(prefix + "/bin/" + tool)) << "bin/" << tool << " is not installed";
  }

  // 2. The example, copied out of the tree: nothing of the checkout or the build is near it.
  fs::create_directories(src);
  for (const char* file : {"CMakeLists.txt", "Makefile", "client_app.cc"}) {
    fs::copy_file(source + "/examples/client_app/" + file, src + "/" + file);
  }
  const std::string pc_path = "PKG_CONFIG_PATH=" + prefix + "/" + libdir + "/pkgconfig";

  // 2a. find_package(thrifty), with the prefix as the only place to look for it.
  const std::string cmake_build = tmp.path() + "/build-cmake";
  r = RunWithEnv({}, {cmake, "-S", src, "-B", cmake_build, "-DCMAKE_BUILD_TYPE=Release",
               "-DCMAKE_CXX_COMPILER=" + cxx, "-DCMAKE_PREFIX_PATH=" + prefix,
               "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"},
          120000, &what);
  ASSERT_EQ(r.status, 0) << what;
  EXPECT_NE(ReadAll(cmake_build + "/CMakeCache.txt").find("thrifty_DIR:PATH=" + prefix + "/"),
            std::string::npos)
      << "find_package(thrifty) did not take the package under " << prefix;
  r = RunWithEnv({}, {cmake, "--build", cmake_build}, 180000, &what);
  ASSERT_EQ(r.status, 0) << what;
  const std::string cmake_app = cmake_build + "/client_app";

  // 2b. pkg-config, through the example's Makefile.
  r = RunWithEnv({pc_path}, {"make", "-C", src, "CXX=" + cxx}, 180000, &what);
  ASSERT_EQ(r.status, 0) << what;
  const std::string make_output = r.out;
  const std::string pc_app = src + "/client_app";

  // 2c. Every installed header compiles with the .pc's flags alone: the installed headers hold
  // every project header they include.
  r = RunWithEnv({pc_path}, {"pkg-config", "--cflags", "thrifty-client"}, 30000, &what);
  ASSERT_EQ(r.status, 0) << what;
  const std::string cflags = r.out;
  {
    std::ofstream all(src + "/all_headers.cc");
    const fs::path include = prefix + "/include/thrifty";
    for (const auto& entry : fs::recursive_directory_iterator(include)) {
      if (entry.path().extension() != ".h") continue;
      const fs::path relative = fs::relative(entry.path(), include);
      // Generated headers are included by their name, as the project's own code does.
      const bool generated = *relative.begin() == "gen-cpp";
      all << "#include \"" << (generated ? relative.filename() : relative).string() << "\"\n";
    }
  }
  std::vector<std::string> compile = {cxx, "-std=c++17", "-fsyntax-only"};
  for (const auto& flag : Words(cflags)) compile.push_back(flag);
  compile.push_back(src + "/all_headers.cc");
  r = RunWithEnv({}, compile, 120000, &what);
  EXPECT_EQ(r.status, 0) << what;

  // Neither build looked into the checkout or its build tree.
  const bool tmp_inside_tree = tmp.path().rfind(source + "/", 0) == 0;
  if (!tmp_inside_tree) {
    for (const auto& [name, text] :
         std::vector<std::pair<std::string, std::string>>{
             {"compile_commands.json", ReadAll(cmake_build + "/compile_commands.json")},
             {"link.txt", ReadAll(cmake_build + "/CMakeFiles/client_app.dir/link.txt")},
             {"make's commands", make_output},
             {"pkg-config --cflags", cflags}}) {
      EXPECT_EQ(text.find(source + "/"), std::string::npos) << name << " names the checkout:\n" << text;
    }
  }

  // 3. A storeserver from the prefix's bin/ (the harness starts $THRIFTY_BIN/storeserver).
  setenv("THRIFTY_BIN", (prefix + "/bin").c_str(), 1);
  Cluster cluster("storeserver");  // killed by pid when the test ends, before tmp is removed
  ASSERT_EQ(cluster.start({"--memory"}), 0) << "the installed storeserver did not start";
  const std::string node = rpc::ToString(cluster.location(0));

  // 4. Each program puts a key and reads it back, reads the other's key, and the installed
  // storeget sees both.
  r = RunWithEnv({}, {cmake_app, node, "installed-cmake", "put by find_package"}, 30000, &what);
  EXPECT_EQ(r.status, 0) << what;
  EXPECT_EQ(r.out, "put by find_package\n") << what;
  r = RunWithEnv({}, {pc_app, node, "installed-pc", "put by pkg-config"}, 30000, &what);
  EXPECT_EQ(r.status, 0) << what;
  EXPECT_EQ(r.out, "put by pkg-config\n") << what;
  r = RunWithEnv({}, {pc_app, node, "installed-cmake"}, 30000, &what);
  EXPECT_EQ(r.status, 0) << what;
  EXPECT_EQ(r.out, "put by find_package\n") << what;
  r = RunWithEnv({}, {cmake_app, node, "installed-pc"}, 30000, &what);
  EXPECT_EQ(r.status, 0) << what;
  EXPECT_EQ(r.out, "put by pkg-config\n") << what;
  r = RunWithEnv({}, {cmake_app, node, "installed-absent"}, 30000, &what);
  EXPECT_EQ(r.status, 1) << what;
  r = RunWithEnv({}, {prefix + "/bin/storeget", "--peer", node, "installed-pc"}, 30000, &what);
  EXPECT_EQ(r.status, 0) << what;
  EXPECT_EQ(r.out, "put by pkg-config\n") << what;
}

}  // namespace
}  // namespace thrifty::testing
