#include "tracemark/engine/plugin_host.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "test_files.h"

namespace tracemark {
namespace {

using testing::TempDir;

namespace fs = std::filesystem;
using Code = Status::Code;

const std::string kTestPluginDir = TRACEMARK_TEST_PLUGIN_DIR;  // the broken plugins
const std::string kPluginDir = TRACEMARK_PLUGIN_DIR;           // the real ones

std::string TestPlugin(const std::string& name) { return kTestPluginDir + "/lib" + name + ".so"; }
std::string RealPlugin(const std::string& name) { return kPluginDir + "/lib" + name + ".so"; }

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> SchemeNames(const PluginHost& host) {
  std::vector<std::string> names;
  for (const Scheme* s : host.schemes()) names.push_back(s->Info().name);
  return names;
}

// Loads one broken test plugin into a fresh host and checks it is refused
// with InvalidArgument naming the path and containing every `expected`.
void ExpectRefused(const std::string& name, const std::vector<std::string>& expected) {
  SCOPED_TRACE(name);
  PluginHost host;
  std::string path = TestPlugin(name);
  ASSERT_TRUE(fs::exists(path)) << path << " was not built";
  Status st = host.Load(path);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("refused"), std::string::npos) << st.message();
  for (const auto& text : expected) {
    EXPECT_NE(st.message().find(text), std::string::npos)
        << "expected '" << text << "' in: " << st.message();
  }
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  EXPECT_TRUE(host.schemes().empty());
  EXPECT_EQ(host.Find(name).status().code(), Code::kNotFound);
}

TEST(PluginHostTest, RefusesWrongAbiVersion) {
  ExpectRefused("bad_abi", {"ABI 999", "host speaks " + std::to_string(kSchemeAbiVersion)});
}

TEST(PluginHostTest, RefusesWrongTorchVersion) {
  ExpectRefused("bad_torch",
                {"LibTorch 0.0.1", std::string("host uses ") + PluginHost::TorchVersion()});
}

TEST(PluginHostTest, RefusesLibraryWithoutEntryPoint) {
  ExpectRefused("no_entry", {"not a Tracemark scheme plugin", "tracemark_scheme_descriptor"});
}

TEST(PluginHostTest, RefusesBadMagic) { ExpectRefused("bad_magic", {"bad magic"}); }

TEST(PluginHostTest, RefusesNullDescriptor) { ExpectRefused("null_descriptor", {"bad magic"}); }

TEST(PluginHostTest, RefusesIncompleteDescriptor) {
  ExpectRefused("incomplete", {"descriptor is incomplete"});
}

TEST(PluginHostTest, RefusesFailingCreateWithItsMessage) {
  ExpectRefused("create_fails", {"create failed", "test plugin has no licence to run"});
}

TEST(PluginHostTest, RefusesSchemeWhoseNameDiffersFromDescriptor) {
  ExpectRefused("name_mismatch", {"names differ"});
}

TEST(PluginHostTest, RefusesGarbageFile) {
  TempDir dir;
  std::string path = dir / "libgarbage.so";
  WriteFile(path, "this is not an ELF shared object\n");
  PluginHost host;
  Status st = host.Load(path);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("cannot load library"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_TRUE(host.schemes().empty());
}

TEST(PluginHostTest, RefusesMissingFile) {
  TempDir dir;
  PluginHost host;
  Status st = host.Load(dir / "libnothing.so");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("cannot load library"), std::string::npos) << st.message();
}

TEST(PluginHostTest, LoadsRealPluginDirectory) {
  PluginHost host;
  Status st = host.LoadDirectory(kPluginDir);
  ASSERT_TRUE(st.ok()) << st.message();
  for (const auto& r : host.refused()) ADD_FAILURE() << "refused " << r.path << ": " << r.reason;
  std::vector<std::string> names = SchemeNames(host);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* name : {"uchida", "deepmarks"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    auto found = host.Find(name);
    ASSERT_TRUE(found.ok()) << found.status().message();
    EXPECT_EQ((*found)->Info().name, name);
    EXPECT_FALSE((*found)->Info().params.empty()) << name;
  }
}

TEST(PluginHostTest, FindUnknownNameListsLoadedSchemes) {
  PluginHost host;
  auto none = host.Find("uchida");
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("none"), std::string::npos) << none.status().message();

  ASSERT_TRUE(host.LoadDirectory(kPluginDir).ok());
  auto found = host.Find("no-such-scheme");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), Code::kNotFound);
  const std::string& msg = found.status().message();
  EXPECT_NE(msg.find("no-such-scheme"), std::string::npos) << msg;
  EXPECT_NE(msg.find("uchida"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deepmarks"), std::string::npos) << msg;
}

TEST(PluginHostTest, LoadingTheSamePluginTwiceIsAlreadyExists) {
  PluginHost host;
  ASSERT_TRUE(host.Load(RealPlugin("uchida")).ok());
  Status again = host.Load(RealPlugin("uchida"));
  EXPECT_EQ(again.code(), Code::kAlreadyExists) << again.message();
  EXPECT_NE(again.message().find("uchida"), std::string::npos) << again.message();
  // The first copy is untouched and still usable.
  EXPECT_EQ(SchemeNames(host), std::vector<std::string>{"uchida"});
  auto found = host.Find("uchida");
  ASSERT_TRUE(found.ok());
  SchemeParams effective;
  EXPECT_TRUE((*found)->ResolveParams({}, &effective).ok());
  EXPECT_FALSE(effective.empty());
}

TEST(PluginHostTest, LoadDirectoryTwiceRecordsDuplicatesAsRefused) {
  PluginHost host;
  ASSERT_TRUE(host.LoadDirectory(kPluginDir).ok());
  size_t loaded = host.schemes().size();
  ASSERT_TRUE(host.LoadDirectory(kPluginDir).ok());
  EXPECT_EQ(host.schemes().size(), loaded);
  EXPECT_EQ(host.refused().size(), loaded);
  for (const auto& r : host.refused()) {
    EXPECT_NE(r.reason.find("loaded twice"), std::string::npos) << r.reason;
  }
}

TEST(PluginHostTest, MissingDirectoryIsNotFound) {
  TempDir dir;
  PluginHost host;
  Status st = host.LoadDirectory(dir / "does-not-exist");
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
  EXPECT_NE(st.message().find("does-not-exist"), std::string::npos) << st.message();
  EXPECT_TRUE(host.refused().empty());
}

TEST(PluginHostTest, DefaultDirectoryIsBesideTheExecutablesBinDirectory) {
  // This binary lives in BUILD/bin, so the default is the build's plugin dir.
  std::error_code ec;
  EXPECT_TRUE(fs::equivalent(DefaultPluginDirectory(), kPluginDir, ec))
      << DefaultPluginDirectory() << " vs " << kPluginDir << " " << ec.message();
}

TEST(PluginHostTest, TestPluginDirectoryRefusesEveryPluginWithItsReason) {
  // Each broken plugin and the text its refusal must contain.
  const std::map<std::string, std::string> expected = {
      {"bad_abi", "ABI 999"},
      {"bad_torch", "LibTorch 0.0.1"},
      {"bad_magic", "bad magic"},
      {"no_entry", "not a Tracemark scheme plugin"},
      {"null_descriptor", "bad magic"},
      {"incomplete", "descriptor is incomplete"},
      {"create_fails", "test plugin has no licence to run"},
      {"name_mismatch", "names differ"},
  };
  PluginHost host;
  ASSERT_TRUE(host.LoadDirectory(kTestPluginDir).ok());
  EXPECT_TRUE(host.schemes().empty());

  std::map<std::string, std::string> reasons;  // path -> reason
  for (const auto& r : host.refused()) reasons[r.path] = r.reason;
  size_t libraries = 0;
  for (const auto& entry : fs::directory_iterator(kTestPluginDir)) {
    if (entry.path().extension() == ".so") ++libraries;
  }
  EXPECT_EQ(host.refused().size(), libraries);
  for (const auto& [name, text] : expected) {
    auto it = reasons.find(TestPlugin(name));
    ASSERT_NE(it, reasons.end()) << name << " was not refused";
    EXPECT_NE(it->second.find(text), std::string::npos) << name << ": " << it->second;
  }

  // The host is still usable: real plugins load next to the refusals.
  ASSERT_TRUE(host.LoadDirectory(kPluginDir).ok());
  EXPECT_EQ(host.refused().size(), libraries);
  auto uchida = host.Find("uchida");
  ASSERT_TRUE(uchida.ok()) << uchida.status().message();
  EXPECT_EQ((*uchida)->Info().name, "uchida");
  EXPECT_EQ(host.Find("create_fails").status().code(), Code::kNotFound);
}

TEST(PluginHostTest, DirectoryWithGarbageLoadsOnlySharedObjects) {
  TempDir dir;
  WriteFile(dir / "libgarbage.so", std::string(4096, '\x7f'));
  WriteFile(dir / "README.txt", "not a plugin, and not a .so either\n");
  PluginHost host;
  ASSERT_TRUE(host.LoadDirectory(dir.path()).ok());
  ASSERT_EQ(host.refused().size(), 1u);
  EXPECT_EQ(host.refused()[0].path, dir / "libgarbage.so");
  EXPECT_NE(host.refused()[0].reason.find("cannot load library"), std::string::npos)
      << host.refused()[0].reason;
  EXPECT_TRUE(host.schemes().empty());
}

}  // namespace
}  // namespace tracemark
