#include "tracemark/base/numbers.h"

#include <gtest/gtest.h>

namespace tracemark {
namespace {

TEST(ParseInt, ReadsWholeIntegers) {
  int64_t v = 0;
  ASSERT_TRUE(ParseInt("42", &v));
  EXPECT_EQ(v, 42);
  ASSERT_TRUE(ParseInt("-7", &v));
  EXPECT_EQ(v, -7);
}

TEST(ParseInt, RefusesEverythingElseAndLeavesTheValue) {
  for (const char* text :
       {"", "12abc", " 12", "12 ", "1.5", "0x10", "abc", "99999999999999999999"}) {
    int64_t v = 5;
    EXPECT_FALSE(ParseInt(text, &v)) << text;
    EXPECT_EQ(v, 5) << text;
  }
}

TEST(ParseDouble, ReadsFiniteNumbers) {
  double v = 0;
  ASSERT_TRUE(ParseDouble("0.5", &v));
  EXPECT_DOUBLE_EQ(v, 0.5);
  ASSERT_TRUE(ParseDouble("1e-4", &v));
  EXPECT_DOUBLE_EQ(v, 1e-4);
}

TEST(ParseDouble, RefusesEverythingElse) {
  for (const char* text : {"", "1.5x", " 1", "nan", "inf", "1e999", "--1"}) {
    double v = 3;
    EXPECT_FALSE(ParseDouble(text, &v)) << text;
    EXPECT_EQ(v, 3) << text;
  }
}

}  // namespace
}  // namespace tracemark
