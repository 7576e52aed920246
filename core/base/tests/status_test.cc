#include "tracemark/base/status.h"

#include <gtest/gtest.h>

namespace tracemark {
namespace {

TEST(StatusOr, HoldsAValueOrAnError) {
  StatusOr<int> good(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  StatusOr<int> bad(Status::NotFound("no such thing"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kNotFound);
}

TEST(StatusOr, AnOkStatusWithoutAValueIsAnInternalError) {
  StatusOr<int> odd(Status::Ok());
  EXPECT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), Status::Code::kInternal);
}

TEST(StatusOrDeathTest, ReadingTheValueOfAnErrorAbortsWithItsMessage) {
  StatusOr<int> bad(Status::NotFound("no such thing"));
  EXPECT_DEATH((void)bad.value(), "value of a failed StatusOr: no such thing");
}

}  // namespace
}  // namespace tracemark
