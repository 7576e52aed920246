#include "tracemark/sdk/scheme_params.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tracemark {
namespace {

using Code = Status::Code;

const std::vector<ParamSpec> kSpecs = {
    {"strength", "1.0", "regulariser weight"},
    {"carrier", "auto", "the weight that carries the bits"},
    {"steps", "1500", "maximum optimizer steps"},
};

TEST(FillDefaultsTest, NothingGivenGivesTheDefaults) {
  SchemeParams effective;
  ASSERT_TRUE(FillDefaults(kSpecs, {}, &effective).ok());
  EXPECT_EQ(effective, (SchemeParams{{"strength", "1.0"}, {"carrier", "auto"}, {"steps", "1500"}}));
}

TEST(FillDefaultsTest, GivenValuesOverrideDefaults) {
  SchemeParams effective = {{"stale", "from an earlier call"}};
  ASSERT_TRUE(
      FillDefaults(kSpecs, {{"carrier", "conv2.weight"}, {"steps", "10"}}, &effective).ok());
  EXPECT_EQ(effective,
            (SchemeParams{{"strength", "1.0"}, {"carrier", "conv2.weight"}, {"steps", "10"}}));
}

TEST(FillDefaultsTest, UnknownNameListsValidNames) {
  SchemeParams effective;
  Status st = FillDefaults(kSpecs, {{"strenght", "2"}}, &effective);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("'strenght'"), std::string::npos) << st.message();
  for (const char* name : {"strength", "carrier", "steps"}) {
    EXPECT_NE(st.message().find(name), std::string::npos) << name << " missing: " << st.message();
  }
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
}

TEST(FillDefaultsTest, NoSpecsAcceptsNothing) {
  SchemeParams effective;
  EXPECT_TRUE(FillDefaults({}, {}, &effective).ok());
  EXPECT_TRUE(effective.empty());
  EXPECT_EQ(FillDefaults({}, {{"x", "1"}}, &effective).code(), Code::kInvalidArgument);
}

TEST(GetDoubleTest, ReadsValuesInRange) {
  SchemeParams p = {{"a", "0.25"}, {"lo", "0"}, {"hi", "1"}, {"exp", "1e-3"}, {"neg", "-0.5"}};
  EXPECT_DOUBLE_EQ(GetDouble(p, "a", 0, 1).value(), 0.25);
  EXPECT_DOUBLE_EQ(GetDouble(p, "lo", 0, 1).value(), 0.0);  // bounds are inclusive
  EXPECT_DOUBLE_EQ(GetDouble(p, "hi", 0, 1).value(), 1.0);
  EXPECT_DOUBLE_EQ(GetDouble(p, "exp", 0, 1).value(), 1e-3);
  EXPECT_DOUBLE_EQ(GetDouble(p, "neg", -1, 0).value(), -0.5);
}

TEST(GetDoubleTest, RejectsOutOfRange) {
  SchemeParams p = {{"a", "1.5"}, {"b", "-0.001"}};
  auto a = GetDouble(p, "a", 0, 1);
  EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
  EXPECT_NE(a.status().message().find("a=1.5"), std::string::npos) << a.status().message();
  EXPECT_NE(a.status().message().find("outside"), std::string::npos) << a.status().message();
  EXPECT_EQ(GetDouble(p, "b", 0, 1).status().code(), Code::kInvalidArgument);
}

TEST(GetDoubleTest, RejectsMalformed) {
  for (const char* text : {"", "abc", "0.5x", "1..2", "nan", "inf", "-inf", "1e999", "0,5"}) {
    SchemeParams p = {{"v", text}};
    auto v = GetDouble(p, "v", -1e300, 1e300);
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << "'" << text << "'";
    if (!v.ok()) {
      EXPECT_NE(v.status().message().find("not a number"), std::string::npos)
          << "'" << text << "': " << v.status().message();
    }
  }
}

TEST(GetDoubleTest, MissingIsInvalidArgument) {
  auto v = GetDouble({}, "strength", 0, 1);
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_NE(v.status().message().find("strength"), std::string::npos);
}

TEST(GetIntTest, ReadsValuesInRange) {
  SchemeParams p = {{"a", "42"}, {"lo", "1"}, {"hi", "64"}, {"neg", "-3"}};
  EXPECT_EQ(GetInt(p, "a", 1, 64).value(), 42);
  EXPECT_EQ(GetInt(p, "lo", 1, 64).value(), 1);
  EXPECT_EQ(GetInt(p, "hi", 1, 64).value(), 64);
  EXPECT_EQ(GetInt(p, "neg", -5, 5).value(), -3);
  SchemeParams big = {{"n", "9223372036854775807"}};
  EXPECT_EQ(GetInt(big, "n", 0, INT64_MAX).value(), INT64_MAX);
}

TEST(GetIntTest, RejectsOutOfRange) {
  SchemeParams p = {{"a", "65"}, {"b", "0"}};
  auto a = GetInt(p, "a", 1, 64);
  EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
  EXPECT_NE(a.status().message().find("[1, 64]"), std::string::npos) << a.status().message();
  EXPECT_EQ(GetInt(p, "b", 1, 64).status().code(), Code::kInvalidArgument);
}

TEST(GetIntTest, RejectsMalformed) {
  for (const char* text :
       {"", "abc", "4.2", "12x", "1e3", "0x10", "99999999999999999999", "-99999999999999999999"}) {
    SchemeParams p = {{"v", text}};
    auto v = GetInt(p, "v", INT64_MIN, INT64_MAX);
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument) << "'" << text << "'";
    if (!v.ok()) {
      EXPECT_NE(v.status().message().find("not an integer"), std::string::npos)
          << "'" << text << "': " << v.status().message();
    }
  }
}

TEST(GetIntTest, MissingIsInvalidArgument) {
  EXPECT_EQ(GetInt({}, "steps", 0, 10).status().code(), Code::kInvalidArgument);
}

TEST(ParseSettingTest, SplitsAtTheFirstEquals) {
  SchemeParams p;
  ASSERT_TRUE(ParseSetting("strength=0.5", &p).ok());
  ASSERT_TRUE(ParseSetting("expr=a=b", &p).ok());
  ASSERT_TRUE(ParseSetting("empty=", &p).ok());
  EXPECT_EQ(p, (SchemeParams{{"strength", "0.5"}, {"expr", "a=b"}, {"empty", ""}}));
  ASSERT_TRUE(ParseSetting("strength=2", &p).ok());  // the last setting wins
  EXPECT_EQ(p.at("strength"), "2");
}

TEST(ParseSettingTest, RejectsMissingKeyOrEquals) {
  SchemeParams p;
  for (const char* text : {"strength", "=0.5", "", "="}) {
    Status st = ParseSetting(text, &p);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << "'" << text << "'";
  }
  EXPECT_TRUE(p.empty());
}

}  // namespace
}  // namespace tracemark
