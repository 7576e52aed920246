// SandboxChild against stand-in children (/bin/sh scripts): every way a
// child can end is reported with its reason, and nothing waits forever.
#include <gtest/gtest.h>
#include <unistd.h>

#include "tracemark/sandbox/child_process.h"

namespace tracemark::sandbox {
namespace {

std::unique_ptr<SandboxChild> Start(const std::string& script, double seconds = 5) {
  SandboxOptions options;
  options.wall_seconds = seconds;
  auto child = SandboxChild::Spawn("/bin/sh", {"-c", script}, -1, options);
  EXPECT_TRUE(child.ok()) << child.status().message();
  return child.ok() ? std::move(child).value() : nullptr;
}

TEST(SandboxChild, ACleanExitIsOk) {
  auto child = Start("exit 0");
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(child->Finish().ok());
}

TEST(SandboxChild, ExitCodesAndSignalsAreTheReason) {
  auto exits = Start("exit 3");
  ASSERT_NE(exits, nullptr);
  EXPECT_EQ(exits->Finish().message(), "exit code 3");
  auto crashes = Start("kill -SEGV $$");
  ASSERT_NE(crashes, nullptr);
  EXPECT_NE(crashes->Finish().message().find("signal 11"), std::string::npos);
  auto forbidden = Start("kill -SYS $$");
  ASSERT_NE(forbidden, nullptr);
  EXPECT_EQ(forbidden->Finish().message(), "killed by the sandbox: a forbidden system call");
}

TEST(SandboxChild, AChildThatNeverAnswersHitsTheTimeLimit) {
  auto child = Start("sleep 60", /*seconds=*/0.5);
  ASSERT_NE(child, nullptr);
  const int64_t start = MonotonicMs();
  auto reply = child->Receive();
  EXPECT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().message(), "time limit of 0.5 s");
  EXPECT_LT(MonotonicMs() - start, 3000);
}

TEST(SandboxChild, GarbageOnTheReplyPipeIsRefused) {
  auto child = Start("printf 'this is not a frame at all'; sleep 60");
  ASSERT_NE(child, nullptr);
  auto reply = child->Receive();
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("malformed"), std::string::npos)
      << reply.status().message();
}

TEST(SandboxChild, AMissingProgramIsAClearError) {
  auto child = SandboxChild::Spawn("/no/such/tracemark-sandbox", {}, -1, {});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("no sandbox program"), std::string::npos);
}

TEST(SandboxChild, TheChildSeesNoDescriptorOfTheParentButItsInput) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);  // not close-on-exec: it must still not leak
  auto child = Start("ls /proc/self/fd | sort -n | tr '\\n' ' ' >&2; test ! -e /proc/self/fd/" +
                     std::to_string(fds[0]) + " -a ! -e /proc/self/fd/4");
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(child->Finish().ok());
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace tracemark::sandbox
