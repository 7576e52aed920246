// Release to 100 licensees: every copy is distinct, recorded, and traced to
// exactly its licensee among 100. Per-copy seconds are printed (the README
// quotes them); time is not asserted here — bench/ measures speed.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "test_support.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/store/key_store.h"

namespace tracemark::testing {
namespace {

TEST(ScaleTest, HundredLicenseesEachTraceToThemselves) {
  TempDir dir;
  PluginHost plugins;
  ASSERT_TRUE(plugins.LoadDirectory(PluginDir()).ok());
  auto store = KeyStore::Open(dir / "keystore.db");
  ASSERT_TRUE(store.ok());

  ReleaseRequest request;
  request.model_path = CachedPythonMlp(0, "0:20000", 2);
  request.model_name = "fashion-mlp";
  request.version = "1";
  request.scheme = "uchida";
  request.data_spec = OwnerData();
  request.out_dir = dir / "dist";
  for (int i = 0; i < 100; ++i) request.licensees.push_back("licensee-" + std::to_string(i));
  request.settings = {{"seed", "99"}};
  auto result = ReleaseEngine(store->get(), &plugins).Release(request);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->copies.size(), 100u);

  std::set<std::string> hashes;
  double first = 0, last = 0;
  for (size_t i = 0; i < 100; ++i) {
    const CopyResult& copy = result->copies[i];
    hashes.insert(copy.sha256);
    EXPECT_GE(copy.accuracy, result->base_accuracy - 0.005) << copy.licensee;
    if (i < 10) first += copy.seconds / 10;
    if (i >= 90) last += copy.seconds / 10;
  }
  EXPECT_EQ(hashes.size(), 100u) << "every copy is different";
  std::printf("100 licensees: %.1fs in all; mean per copy %.2fs (first 10) vs %.2fs (last 10)\n",
              result->seconds, first, last);

  TraceEngine tracer(store->get(), &plugins);
  for (const CopyResult& copy : result->copies) {
    auto report = tracer.TraceOwnModel(copy.path);
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->hypotheses, 100);
    ASSERT_EQ(report->accused, std::vector<std::string>{copy.licensee}) << ToText(*report);
    EXPECT_LE(report->candidates.front().p_value, 1e-6);
  }
}

}  // namespace
}  // namespace tracemark::testing
