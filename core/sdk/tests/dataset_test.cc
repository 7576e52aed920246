#include "tracemark/sdk/dataset.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/serialize.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_files.h"

namespace tracemark {
namespace {

using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

namespace fs = std::filesystem;
using Code = Status::Code;

constexpr uint32_t kImageMagic = 0x803;
constexpr uint32_t kLabelMagic = 0x801;
constexpr int64_t kRows = 3, kCols = 4;

void WriteFileOrFail(const std::string& path, const std::string& bytes) {
  ASSERT_TRUE(WriteBytes(path, bytes)) << path;
}

void WriteGzipped(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// An IDX file: big-endian magic, big-endian dimensions, then the bytes.
std::string Idx(uint32_t magic, const std::vector<uint32_t>& dims,
                const std::vector<uint8_t>& data) {
  std::string out;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  put32(magic);
  for (uint32_t d : dims) put32(d);
  out.append(data.begin(), data.end());
  return out;
}

// Pixels of `n` kRows x kCols images; image 0 starts with 255, 0, 51.
std::vector<uint8_t> Pixels(int64_t n, int salt) {
  std::vector<uint8_t> pixels(n * kRows * kCols);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>((i * 37 + salt) % 256);
  pixels[0] = 255;
  pixels[1] = 0;
  pixels[2] = 51;
  return pixels;
}

const std::vector<uint8_t> kTrainLabels = {3, 1, 4, 1, 5, 9};
const std::vector<uint8_t> kTestLabels = {2, 6};

std::string ImagesIdx(const std::vector<uint8_t>& pixels) {
  return Idx(kImageMagic, {static_cast<uint32_t>(pixels.size() / (kRows * kCols)), kRows, kCols},
             pixels);
}
std::string LabelsIdx(const std::vector<uint8_t>& labels) {
  return Idx(kLabelMagic, {static_cast<uint32_t>(labels.size())}, labels);
}

// Writes the four MNIST-named files of a small dataset (6 train, 2 test
// images) into `dir`, plain or gzipped.
void WriteMnistDir(const std::string& dir, bool gz) {
  auto write = [&](const std::string& name, const std::string& bytes) {
    if (gz) {
      WriteGzipped(dir + "/" + name + ".gz", bytes);
    } else {
      WriteFileOrFail(dir + "/" + name, bytes);
    }
  };
  write("train-images-idx3-ubyte", ImagesIdx(Pixels(6, 0)));
  write("train-labels-idx1-ubyte", LabelsIdx(kTrainLabels));
  write("t10k-images-idx3-ubyte", ImagesIdx(Pixels(2, 5)));
  write("t10k-labels-idx1-ubyte", LabelsIdx(kTestLabels));
}

torch::Tensor ExpectedImages(int64_t n, int salt) {
  std::vector<uint8_t> pixels = Pixels(n, salt);
  return torch::from_blob(pixels.data(), {n, 1, kRows, kCols}, torch::kUInt8)
      .to(torch::kFloat32)
      .div(255.0);
}

torch::Tensor ExpectedLabels(const std::vector<uint8_t>& labels) {
  std::vector<int64_t> wide(labels.begin(), labels.end());
  return torch::tensor(wide, torch::kInt64);
}

void ExpectSmallDataset(const DataSplits& d) {
  EXPECT_EQ(d.train.images.sizes(), (std::vector<int64_t>{6, 1, kRows, kCols}));
  EXPECT_EQ(d.test.images.sizes(), (std::vector<int64_t>{2, 1, kRows, kCols}));
  EXPECT_EQ(d.train.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(d.train.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(d.test.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(d.train.size(), 6);
  EXPECT_EQ(d.test.size(), 2);
  EXPECT_FLOAT_EQ(d.train.images[0][0][0][0].item<float>(), 1.0f);  // 255
  EXPECT_FLOAT_EQ(d.train.images[0][0][0][1].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(d.train.images[0][0][0][2].item<float>(), 0.2f);  // 51
  EXPECT_GE(d.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(d.train.images.max().item<float>(), 1.0f);
  EXPECT_TRUE(torch::allclose(d.train.images, ExpectedImages(6, 0)));
  EXPECT_TRUE(torch::allclose(d.test.images, ExpectedImages(2, 5)));
  EXPECT_TRUE(torch::equal(d.train.labels, ExpectedLabels(kTrainLabels)));
  EXPECT_TRUE(torch::equal(d.test.labels, ExpectedLabels(kTestLabels)));
}

TEST(DatasetTest, LoadsPlainIdxDirectory) {
  TempDir dir;
  WriteMnistDir(dir.path(), /*gz=*/false);
  auto d = LoadDataset(dir.path());
  ASSERT_TRUE(d.ok()) << d.status().message();
  ExpectSmallDataset(*d);
}

TEST(DatasetTest, LoadsGzippedIdxDirectory) {
  TempDir dir;
  WriteMnistDir(dir.path(), /*gz=*/true);
  ASSERT_TRUE(fs::exists(dir / "train-images-idx3-ubyte.gz"));
  ASSERT_FALSE(fs::exists(dir / "train-images-idx3-ubyte"));
  auto d = LoadDataset(dir.path());
  ASSERT_TRUE(d.ok()) << d.status().message();
  ExpectSmallDataset(*d);
}

TEST(DatasetTest, SlicesTrainingRows) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  torch::Tensor all = ExpectedImages(6, 0);
  torch::Tensor labels = ExpectedLabels(kTrainLabels);
  struct Case {
    std::string suffix;
    int64_t begin, end;
  };
  for (const Case& c : {Case{"[2:5]", 2, 5}, Case{"[:3]", 0, 3}, Case{"[3:]", 3, 6},
                        Case{"[:]", 0, 6}, Case{"[0:6]", 0, 6}, Case{"[5:6]", 5, 6}}) {
    SCOPED_TRACE(c.suffix);
    auto d = LoadDataset(dir.path() + c.suffix);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d->train.size(), c.end - c.begin);
    EXPECT_TRUE(torch::allclose(d->train.images, all.slice(0, c.begin, c.end)));
    EXPECT_TRUE(torch::equal(d->train.labels, labels.slice(0, c.begin, c.end)));
    EXPECT_EQ(d->test.size(), 2);  // the test split is never sliced
  }
}

TEST(DatasetTest, RejectsBadSlices) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  for (const char* suffix :
       {"[5:2]", "[3:3]", "[a:b]", "[1:x]", "[0:7]", "[7:]", "[-1:3]", "[2]", "[1.5:3]"}) {
    auto d = LoadDataset(dir.path() + suffix);
    EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << suffix << ": " << d.status().message();
  }
}

TEST(DatasetTest, MissingPathIsNotFound) {
  TempDir dir;
  EXPECT_EQ(LoadDataset(dir / "nope").status().code(), Code::kNotFound);
  EXPECT_EQ(LoadDataset(dir / "nope[1:2]").status().code(), Code::kNotFound);
  EXPECT_EQ(LoadDataset(dir / "nope.pt").status().code(), Code::kNotFound);
}

TEST(DatasetTest, DirectoryWithoutTestFilesIsNotFound) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  auto d = LoadDataset(dir.path());
  EXPECT_EQ(d.status().code(), Code::kNotFound);
  EXPECT_NE(d.status().message().find("t10k-labels-idx1-ubyte"), std::string::npos)
      << d.status().message();
}

TEST(DatasetTest, WrongMagicIsInvalidArgument) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  // Labels where images belong.
  WriteFileOrFail(dir / "train-images-idx3-ubyte", LabelsIdx(kTrainLabels));
  auto d = LoadDataset(dir.path());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_NE(d.status().message().find("train-images-idx3-ubyte"), std::string::npos)
      << d.status().message();

  WriteMnistDir(dir.path(), false);
  WriteFileOrFail(dir / "t10k-labels-idx1-ubyte", "garbage!");
  EXPECT_EQ(LoadDataset(dir.path()).status().code(), Code::kInvalidArgument);

  WriteFileOrFail(dir / "t10k-labels-idx1-ubyte", "");
  EXPECT_EQ(LoadDataset(dir.path()).status().code(), Code::kInvalidArgument);
}

TEST(DatasetTest, TruncatedIdxIsInvalidArgument) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  std::string images = ImagesIdx(Pixels(6, 0));
  WriteFileOrFail(dir / "train-images-idx3-ubyte", images.substr(0, images.size() - 1));
  EXPECT_EQ(LoadDataset(dir.path()).status().code(), Code::kInvalidArgument);
  // Truncated inside the header.
  WriteFileOrFail(dir / "train-images-idx3-ubyte", images.substr(0, 10));
  EXPECT_EQ(LoadDataset(dir.path()).status().code(), Code::kInvalidArgument);
  // Trailing bytes are as wrong as missing ones.
  WriteFileOrFail(dir / "train-images-idx3-ubyte", images + "x");
  EXPECT_EQ(LoadDataset(dir.path()).status().code(), Code::kInvalidArgument);
}

TEST(DatasetTest, TruncatedGzipIsInvalidArgument) {
  TempDir dir;
  WriteMnistDir(dir.path(), true);
  std::string gz = ReadBytes(dir / "train-images-idx3-ubyte.gz");
  ASSERT_GT(gz.size(), 30u);
  WriteFileOrFail(dir / "train-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2));
  auto d = LoadDataset(dir.path());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << d.status().message();
}

TEST(DatasetTest, IdxDimensionsWhoseProductOverflowsAreInvalidArgument) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  // 2^22 * 2^21 * 2^21 = 2^64 images' bytes: the size check must not wrap to 0.
  WriteFileOrFail(dir / "train-images-idx3-ubyte",
                  Idx(kImageMagic, {1u << 22, 1u << 21, 1u << 21}, {}));
  StatusOr<DataSplits> d = Status::Internal("not run");
  EXPECT_NO_THROW(d = LoadDataset(dir.path()));
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << d.status().message();
}

TEST(DatasetTest, ModelFileIsInvalidArgument) {
  TempDir dir;
  torch::jit::Module m("Tiny");
  m.register_parameter("weight", torch::ones({2, 2}), false);
  m.define("def forward(self, x):\n    return x\n");
  m.save(dir / "model.pt");
  StatusOr<DataSplits> d = Status::Internal("not run");
  EXPECT_NO_THROW(d = LoadDataset(dir / "model.pt"));
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << d.status().message();
}

TEST(DatasetTest, ImageAndLabelCountsMustAgree) {
  TempDir dir;
  WriteMnistDir(dir.path(), false);
  WriteFileOrFail(dir / "train-labels-idx1-ubyte", LabelsIdx({1, 2, 3, 4, 5}));
  auto d = LoadDataset(dir.path());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << d.status().message();
}

Dataset MakeTensorDataset(int64_t n, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  // Pixel values k/255, exactly what a uint8 file can hold.
  torch::Tensor images = torch::randint(0, 256, {n, 1, 5, 5}, gen).to(torch::kFloat32).div(255.0);
  torch::Tensor labels = torch::randint(0, 10, {n}, gen).to(torch::kInt64);
  return Dataset{images, labels};
}

TEST(DatasetTest, TensorFileRoundTripWithTestSplit) {
  TempDir dir;
  Dataset train = MakeTensorDataset(12, 1), test = MakeTensorDataset(4, 2);
  ASSERT_TRUE(SaveDataset(train, &test, dir / "data.pt").ok());
  auto d = LoadDataset(dir / "data.pt");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->train.images.sizes(), train.images.sizes());
  EXPECT_EQ(d->train.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(d->train.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::allclose(d->train.images, train.images, 0, 1e-6));
  EXPECT_TRUE(torch::equal(d->train.labels, train.labels));
  EXPECT_TRUE(torch::allclose(d->test.images, test.images, 0, 1e-6));
  EXPECT_TRUE(torch::equal(d->test.labels, test.labels));

  auto sliced = LoadDataset(dir / "data.pt[4:10]");
  ASSERT_TRUE(sliced.ok()) << sliced.status().message();
  EXPECT_TRUE(torch::equal(sliced->train.labels, train.labels.slice(0, 4, 10)));
  EXPECT_EQ(sliced->test.size(), 4);
}

TEST(DatasetTest, TensorFileWithoutTestSplitHoldsOutLastTenth) {
  TempDir dir;
  Dataset all = MakeTensorDataset(20, 3);
  ASSERT_TRUE(SaveDataset(all, nullptr, dir / "data.pt").ok());
  auto d = LoadDataset(dir / "data.pt");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->train.size(), 18);
  EXPECT_EQ(d->test.size(), 2);
  EXPECT_TRUE(torch::allclose(d->train.images, all.images.slice(0, 0, 18), 0, 1e-6));
  EXPECT_TRUE(torch::equal(d->train.labels, all.labels.slice(0, 0, 18)));
  EXPECT_TRUE(torch::allclose(d->test.images, all.images.slice(0, 18, 20), 0, 1e-6));
  EXPECT_TRUE(torch::equal(d->test.labels, all.labels.slice(0, 18, 20)));
}

TEST(DatasetTest, TensorFileWithThreeDimensionalImagesGetsAChannel) {
  TempDir dir;
  Dataset flat = MakeTensorDataset(10, 4);
  flat.images = flat.images.squeeze(1);  // [N, H, W]
  ASSERT_TRUE(SaveDataset(flat, nullptr, dir / "flat.pt").ok());
  auto d = LoadDataset(dir / "flat.pt");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->train.images.sizes(), (std::vector<int64_t>{9, 1, 5, 5}));
}

TEST(DatasetTest, TensorFileThatIsNotADictIsInvalidArgument) {
  TempDir dir;
  std::vector<char> bytes = torch::pickle_save(c10::IValue(torch::ones({4, 2})));
  WriteFileOrFail(dir / "tensor.pt", std::string(bytes.begin(), bytes.end()));
  auto d = LoadDataset(dir / "tensor.pt");
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_NE(d.status().message().find("dict"), std::string::npos) << d.status().message();
}

TEST(DatasetTest, TensorFileWithoutLabelsIsInvalidArgument) {
  TempDir dir;
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("x", torch::zeros({4, 2, 2}, torch::kUInt8));
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  WriteFileOrFail(dir / "nolabels.pt", std::string(bytes.begin(), bytes.end()));
  EXPECT_EQ(LoadDataset(dir / "nolabels.pt").status().code(), Code::kInvalidArgument);
}

TEST(DatasetTest, GarbageTensorFileIsInvalidArgument) {
  TempDir dir;
  WriteFileOrFail(dir / "garbage.pt", "definitely not a zip archive");
  auto d = LoadDataset(dir / "garbage.pt");
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(d.status().message().find('\n'), std::string::npos) << d.status().message();
}

TEST(DatasetTest, SliceClampsAndSharesStorage) {
  Dataset d = MakeTensorDataset(8, 5);
  EXPECT_EQ(d.Slice(-3, 100).size(), 8);
  EXPECT_EQ(d.Slice(6, 2).size(), 0);
  Dataset mid = d.Slice(2, 5);
  EXPECT_EQ(mid.size(), 3);
  EXPECT_EQ(mid.images.data_ptr<float>(), d.images[2].data_ptr<float>());
  EXPECT_EQ(Dataset{}.size(), 0);
}

TEST(DatasetTest, LoadsFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing: scripts/install-deps.sh installs it";
  auto d = LoadDataset(dir);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(d->test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(d->train.size(), 60000);
  EXPECT_EQ(d->test.size(), 10000);
  EXPECT_EQ(d->train.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(d->train.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(d->train.labels.max().item<int64_t>(), 9);
  EXPECT_GE(d->train.images.min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(d->train.images.max().item<float>(), 1.0f);
}

}  // namespace
}  // namespace tracemark
