#include "tracemark/store/daemon_store.h"

#include <gtest/gtest.h>

#include "test_files.h"
#include "tracemark/store/key_store.h"

namespace tracemark {
namespace {

class DaemonStoreTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<DaemonStore> store_ = DaemonStore::Open(dir_ / "keys.db").value();
};

TEST_F(DaemonStoreTest, TokensAreFoundByHashWithTheirRole) {
  auto token = store_->AddToken("hash-1", "investigator", "alice");
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(token->role, "investigator");
  EXPECT_EQ(store_->FindToken("hash-1")->name, "alice");
  EXPECT_EQ(store_->FindToken("hash-2").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->AddToken("hash-1", "admin", "").status().code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(store_->AddToken("hash-3", "root", "").status().code(), Status::Code::kInvalidArgument);
}

TEST_F(DaemonStoreTest, InvestigationLifecycle) {
  auto id = store_->AddInvestigation(InvestigationSource::kUpload, "leak.pt", "/tmp/x.pt");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(store_->GetInvestigation(*id)->status, InvestigationStatus::kQueued);
  ASSERT_TRUE(store_->SetInvestigationPath(*id, "/var/done/x.pt").ok());
  ASSERT_TRUE(store_->StartInvestigation(*id).ok());
  EXPECT_EQ(store_->GetInvestigation(*id)->status, InvestigationStatus::kRunning);
  ASSERT_TRUE(store_->FinishInvestigation(*id, "attributed", "{\"verdict\":1}", "").ok());
  auto done = store_->GetInvestigation(*id).value();
  EXPECT_EQ(done.status, InvestigationStatus::kDone);
  EXPECT_EQ(done.verdict, "attributed");
  EXPECT_EQ(done.path, "/var/done/x.pt");
  EXPECT_FALSE(done.finished_at.empty());

  auto failed =
      store_->AddInvestigation(InvestigationSource::kInbox, "junk.pt", "/tmp/j.pt").value();
  ASSERT_TRUE(store_->FinishInvestigation(failed, "", "", "not a model").ok());
  EXPECT_EQ(store_->GetInvestigation(failed)->status, InvestigationStatus::kFailed);
  EXPECT_EQ(store_->ListInvestigations()->size(), 2u);
  EXPECT_EQ(store_->GetInvestigation(99).status().code(), Status::Code::kNotFound);
}

TEST_F(DaemonStoreTest, SharesTheDatabaseFileWithTheKeyStore) {
  auto keys = KeyStore::Open(dir_ / "keys.db");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  ASSERT_TRUE((*keys)->AddLicensee("alice").ok());
  ASSERT_TRUE(store_->AddToken("hash-9", "viewer", "").ok());
  EXPECT_EQ((*keys)->ListLicensees()->size(), 1u);
  EXPECT_EQ(store_->FindToken("hash-9")->role, "viewer");
}

TEST_F(DaemonStoreTest, StartsAreCounted) {
  auto id = store_->AddInvestigation(InvestigationSource::kUpload, "x.pt", "/tmp/x.pt").value();
  EXPECT_EQ(store_->GetInvestigation(id)->attempts, 0);
  ASSERT_TRUE(store_->StartInvestigation(id).ok());
  ASSERT_TRUE(store_->StartInvestigation(id).ok());
  EXPECT_EQ(store_->GetInvestigation(id)->attempts, 2);
}

TEST_F(DaemonStoreTest, RefusedManifestsAreRememberedReplacedAndForgotten) {
  ASSERT_TRUE(store_->RefuseManifest({"/r/m/1/release.json", "100", "no such scheme"}).ok());
  ASSERT_TRUE(store_->RefuseManifest({"/r/m/1/release.json", "200", "still bad"}).ok());
  ASSERT_TRUE(store_->RefuseManifest({"/r/m/2/release.json", "300", "dataset"}).ok());
  auto refused = store_->ListRefusedManifests();
  ASSERT_TRUE(refused.ok()) << refused.status().message();
  ASSERT_EQ(refused->size(), 2u);
  EXPECT_EQ((*refused)[0].mtime, "200");
  EXPECT_EQ((*refused)[0].reason, "still bad");
  ASSERT_TRUE(store_->ForgetManifest("/r/m/1/release.json").ok());
  ASSERT_TRUE(store_->ForgetManifest("/never/refused").ok());
  EXPECT_EQ(store_->ListRefusedManifests()->size(), 1u);
}

TEST_F(DaemonStoreTest, EndpointInvestigationKeepsUrlAndModel) {
  auto id = store_->AddEndpointInvestigation("http://10.0.0.7:8000", "fashion");
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto inv = store_->GetInvestigation(*id).value();
  EXPECT_EQ(inv.source, InvestigationSource::kEndpoint);
  EXPECT_EQ(inv.status, InvestigationStatus::kQueued);
  EXPECT_EQ(inv.path, "");
  EXPECT_EQ(inv.endpoint_url, "http://10.0.0.7:8000");
  EXPECT_EQ(inv.endpoint_model, "fashion");
  EXPECT_EQ(inv.original_name, "fashion at http://10.0.0.7:8000");
}

}  // namespace
}  // namespace tracemark
