#include "tracemark/sdk/key_blob.h"

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <string>

namespace tracemark {
namespace {

using Code = Status::Code;

std::string Pickle(const c10::IValue& value) {
  std::vector<char> bytes = torch::pickle_save(value);
  return std::string(bytes.begin(), bytes.end());
}

TEST(KeyBlobTest, RoundTripsTensorsStringsAndInts) {
  torch::Generator gen = at::detail::createCPUGenerator(42);
  torch::Tensor projection = torch::randn({8, 16}, gen);
  torch::Tensor bits = torch::tensor({0, 1, 1, 0}, torch::kInt64);
  torch::Tensor transposed = torch::arange(6, torch::kFloat32).reshape({2, 3}).t();  // a view

  KeyBlob blob;
  blob.SetTensor("projection", projection);
  blob.SetTensor("bits", bits);
  blob.SetTensor("transposed", transposed);
  blob.SetString("carrier", "fc1.weight");
  blob.SetString("empty", "");
  blob.SetString("binary", std::string("a\0b\xff", 4));
  blob.SetInt("m", 1568);
  blob.SetInt("negative", -7);
  blob.SetInt("max", std::numeric_limits<int64_t>::max());
  blob.SetInt("min", std::numeric_limits<int64_t>::min());

  std::string bytes = blob.Serialize();
  ASSERT_FALSE(bytes.empty());
  auto parsed = KeyBlob::Parse(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();

  auto t = parsed->Tensor("projection");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(*t, projection));
  auto b = parsed->Tensor("bits");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(*b, bits));
  auto v = parsed->Tensor("transposed");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(torch::equal(*v, transposed));

  EXPECT_EQ(parsed->String("carrier").value(), "fc1.weight");
  EXPECT_EQ(parsed->String("empty").value(), "");
  EXPECT_EQ(parsed->String("binary").value(), std::string("a\0b\xff", 4));
  EXPECT_EQ(parsed->Int("m").value(), 1568);
  EXPECT_EQ(parsed->Int("negative").value(), -7);
  EXPECT_EQ(parsed->Int("max").value(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parsed->Int("min").value(), std::numeric_limits<int64_t>::min());

  // Serialising the parsed blob again gives a blob with the same contents.
  auto again = KeyBlob::Parse(parsed->Serialize());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(torch::equal(again->Tensor("projection").value(), projection));
  EXPECT_EQ(again->Int("m").value(), 1568);
}

TEST(KeyBlobTest, EmptyBlobRoundTrips) {
  auto parsed = KeyBlob::Parse(KeyBlob().Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->Int("anything").status().code(), Code::kCorruption);
}

TEST(KeyBlobTest, SettersOverwrite) {
  KeyBlob blob;
  blob.SetInt("n", 1);
  blob.SetInt("n", 2);
  blob.SetString("s", "old");
  blob.SetString("s", "new");
  auto parsed = KeyBlob::Parse(blob.Serialize());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Int("n").value(), 2);
  EXPECT_EQ(parsed->String("s").value(), "new");
}

TEST(KeyBlobTest, ParseOfGarbageIsCorruption) {
  for (const std::string& bytes : {std::string(), std::string("not a key"), std::string(1000, '\0'),
                                   std::string("PK\x03\x04")}) {
    auto parsed = KeyBlob::Parse(bytes);
    EXPECT_EQ(parsed.status().code(), Code::kCorruption) << bytes.size() << " bytes";
  }
  // A truncated key.
  KeyBlob blob;
  blob.SetTensor("x", torch::ones({64, 64}));
  std::string bytes = blob.Serialize();
  EXPECT_EQ(KeyBlob::Parse(bytes.substr(0, bytes.size() / 2)).status().code(), Code::kCorruption);
}

TEST(KeyBlobTest, ParseOfOtherPicklesIsCorruption) {
  // A pickle, but a tensor rather than a tuple.
  EXPECT_EQ(KeyBlob::Parse(Pickle(torch::ones({3}))).status().code(), Code::kCorruption);
  // A tuple of the right size with another format tag.
  c10::Dict<std::string, torch::Tensor> tensors;
  c10::Dict<std::string, std::string> strings;
  c10::Dict<std::string, int64_t> ints;
  auto other =
      c10::ivalue::Tuple::create({std::string("someone-elses-key-v9"), tensors, strings, ints});
  EXPECT_EQ(KeyBlob::Parse(Pickle(other)).status().code(), Code::kCorruption);
  // The right tag, the wrong number of fields.
  auto short_tuple = c10::ivalue::Tuple::create({std::string("tracemark-key-v1"), tensors});
  EXPECT_EQ(KeyBlob::Parse(Pickle(short_tuple)).status().code(), Code::kCorruption);
  // The right tag and size, but fields of the wrong types.
  auto wrong_types = c10::ivalue::Tuple::create(
      {std::string("tracemark-key-v1"), int64_t{1}, int64_t{2}, int64_t{3}});
  EXPECT_EQ(KeyBlob::Parse(Pickle(wrong_types)).status().code(), Code::kCorruption);
  // The sanity check of the helper: a well-formed tuple parses.
  auto good = c10::ivalue::Tuple::create({std::string("tracemark-key-v1"), tensors, strings, ints});
  EXPECT_TRUE(KeyBlob::Parse(Pickle(good)).ok());
}

TEST(KeyBlobTest, MissingFieldIsCorruption) {
  KeyBlob blob;
  blob.SetTensor("t", torch::ones({2}));
  blob.SetString("s", "x");
  blob.SetInt("i", 3);
  auto parsed = KeyBlob::Parse(blob.Serialize());
  ASSERT_TRUE(parsed.ok());
  auto t = parsed->Tensor("nope");
  EXPECT_EQ(t.status().code(), Code::kCorruption);
  EXPECT_NE(t.status().message().find("nope"), std::string::npos) << t.status().message();
  EXPECT_EQ(parsed->String("nope").status().code(), Code::kCorruption);
  EXPECT_EQ(parsed->Int("nope").status().code(), Code::kCorruption);
  // Fields are typed: a string is not an int, nor an int a tensor.
  EXPECT_EQ(parsed->Int("s").status().code(), Code::kCorruption);
  EXPECT_EQ(parsed->Tensor("i").status().code(), Code::kCorruption);
  EXPECT_EQ(parsed->String("t").status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace tracemark
