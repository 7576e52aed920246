#include "tracemark/base/text.h"

#include <gtest/gtest.h>

namespace tracemark {
namespace {

TEST(ValidUtf8, KeepsValidTextAsItIs) {
  EXPECT_EQ(ValidUtf8("model.pt"), "model.pt");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(ValidUtf8, EscapesEveryInvalidByte) {
  EXPECT_EQ(ValidUtf8("caf\xe9.pt"), "caf\\xe9.pt");
  EXPECT_EQ(ValidUtf8("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_EQ(ValidUtf8("end\xe2\x82"), "end\\xe2\\x82");     // truncated sequence
}

TEST(JsonText, NeverThrowsAndEscapesInvalidNames) {
  nlohmann::json doc = {{"name", "caf\xe9.pt"}, {"list", {"ok", "\xff"}}, {"n", 3}};
  std::string text;
  ASSERT_NO_THROW(text = JsonText(doc));
  nlohmann::json back = nlohmann::json::parse(text);
  EXPECT_EQ(back["name"], "caf\\xe9.pt");
  EXPECT_EQ(back["list"][1], "\\xff");
  EXPECT_EQ(back["n"], 3);
}

TEST(JsonText, LeavesValidDocumentsAsDumpWrites) {
  nlohmann::json doc = {{"a", 1}, {"b", "caf\xc3\xa9"}};
  EXPECT_EQ(JsonText(doc), doc.dump());
  EXPECT_EQ(JsonText(doc, 2), doc.dump(2));
}

}  // namespace
}  // namespace tracemark
