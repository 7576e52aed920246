#include "tracemark/sdk/dataset.h"

#include <sys/stat.h>
#include <torch/serialize.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "tracemark/base/file_util.h"
#include "tracemark/base/guarded_call.h"
#include "tracemark/base/numbers.h"
#include "tracemark/sdk/idx_format.h"

namespace tracemark {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t kIdxLabelMagic = 0x00000801;
constexpr uint32_t kIdxImageMagic = 0x00000803;

// The most a dataset file may hold, on disk or inflated.
constexpr int64_t kMaxDatasetFileBytes = int64_t{4} << 30;

// InvalidArgument unless `path` (followed through links) is a regular file
// of at most kMaxDatasetFileBytes: a device, a FIFO or a socket would be
// read forever or block.
Status CheckDataFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(path +
                                   " is not a regular file (datasets are files, or "
                                   "directories of files)");
  }
  if (st.st_size > kMaxDatasetFileBytes) {
    return Status::InvalidArgument(path + " is larger than the dataset limit of " +
                                   std::to_string(kMaxDatasetFileBytes >> 20) + " MiB");
  }
  return Status::Ok();
}

// Reads a whole IDX file, gzipped or plain (zlib reads both transparently).
StatusOr<std::string> ReadMaybeGzipped(const std::string& path) {
  TM_RETURN_IF_ERROR(CheckDataFile(path));
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return Status::IoError("cannot open " + path);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    if (static_cast<int64_t>(out.size()) + n > kMaxDatasetFileBytes) {
      gzclose(f);
      return Status::InvalidArgument(path + " inflates beyond the dataset limit of " +
                                     std::to_string(kMaxDatasetFileBytes >> 20) + " MiB");
    }
    out.append(buf, n);
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  std::string error = (n < 0 || err < 0) ? std::string(msg) : "";
  gzclose(f);
  if (!error.empty()) return Status::InvalidArgument(path + ": corrupt gzip data (" + error + ")");
  return out;
}

// Parses an IDX file with the expected magic into a uint8 tensor.
StatusOr<torch::Tensor> ReadIdx(const std::string& path, uint32_t magic) {
  TM_ASSIGN_OR_RETURN(std::string bytes, ReadMaybeGzipped(path));
  TM_ASSIGN_OR_RETURN(IdxLayout layout, ParseIdxLayout(bytes, magic, path));
  auto t = torch::empty(layout.dims, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data() + layout.header, layout.count);
  return t;
}

// Finds `stem` or `stem.gz` in dir.
std::optional<std::string> FindIdx(const fs::path& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"}) {
    if (fs::exists(dir / name)) return (dir / name).string();
  }
  return std::nullopt;
}

StatusOr<Dataset> MakeDataset(torch::Tensor x, torch::Tensor y, const std::string& what) {
  if (x.dim() == 3) x = x.unsqueeze(1);
  if (x.dim() != 4) {
    return Status::InvalidArgument(what + ": images must be [N, H, W] or [N, C, H, W], got " +
                                   c10::str(x.sizes()));
  }
  if (y.dim() != 1 || y.size(0) != x.size(0)) {
    return Status::InvalidArgument(what + ": " + std::to_string(x.size(0)) + " images but labels " +
                                   c10::str(y.sizes()));
  }
  if (x.scalar_type() == torch::kUInt8) {
    x = x.to(torch::kFloat32).div_(255.0);
  } else if (x.is_floating_point()) {
    x = x.to(torch::kFloat32);
  } else {
    return Status::InvalidArgument(what + ": images must be uint8 or floating point");
  }
  if (y.is_floating_point()) return Status::InvalidArgument(what + ": labels must be integers");
  return Dataset{x.contiguous(), y.to(torch::kInt64).contiguous()};
}

StatusOr<DataSplits> LoadIdxDirectory(const fs::path& dir) {
  DataSplits splits;
  for (auto [prefix, target] :
       {std::pair{"train", &splits.train}, std::pair{"t10k", &splits.test}}) {
    auto images = FindIdx(dir, std::string(prefix) + "-images-idx3-ubyte");
    auto labels = FindIdx(dir, std::string(prefix) + "-labels-idx1-ubyte");
    if (!images || !labels) {
      return Status::NotFound("dataset directory " + dir.string() + " lacks " + prefix +
                              "-images-idx3-ubyte[.gz] or " + prefix + "-labels-idx1-ubyte[.gz]");
    }
    TM_ASSIGN_OR_RETURN(torch::Tensor x, ReadIdx(*images, kIdxImageMagic));
    TM_ASSIGN_OR_RETURN(torch::Tensor y, ReadIdx(*labels, kIdxLabelMagic));
    TM_ASSIGN_OR_RETURN(*target, MakeDataset(x, y, dir.string()));
  }
  return splits;
}

StatusOr<DataSplits> LoadTensorFile(const std::string& path) {
  TM_RETURN_IF_ERROR(CheckDataFile(path));
  TM_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  c10::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + " is not a torch.save file (" + ExceptionLine(e) + ")");
  }
  if (!value.isGenericDict()) {
    return Status::InvalidArgument(path + " must hold a dict with keys \"x\" and \"y\"");
  }
  auto dict = value.toGenericDict();
  auto get = [&](const char* key) -> std::optional<torch::Tensor> {
    auto it = dict.find(c10::IValue(std::string(key)));
    if (it == dict.end() || !it->value().isTensor()) return std::nullopt;
    return it->value().toTensor();
  };
  auto x = get("x"), y = get("y");
  if (!x || !y) return Status::InvalidArgument(path + " must hold tensors \"x\" and \"y\"");
  TM_ASSIGN_OR_RETURN(Dataset all, MakeDataset(*x, *y, path));
  DataSplits splits;
  auto x_test = get("x_test"), y_test = get("y_test");
  if (x_test && y_test) {
    splits.train = all;
    TM_ASSIGN_OR_RETURN(splits.test, MakeDataset(*x_test, *y_test, path + " (test)"));
  } else {
    int64_t cut = all.size() - all.size() / 10;
    splits.train = all.Slice(0, cut);
    splits.test = all.Slice(cut, all.size());
  }
  return splits;
}

struct SliceSpec {
  std::string path;
  std::optional<int64_t> begin, end;
};

StatusOr<SliceSpec> ParseSpec(const std::string& spec) {
  SliceSpec out{spec, std::nullopt, std::nullopt};
  if (spec.empty() || spec.back() != ']') return out;
  size_t open = spec.rfind('[');
  size_t colon = spec.find(':', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || colon == std::string::npos) {
    return Status::InvalidArgument("bad dataset slice in '" + spec + "' (expected PATH[a:b])");
  }
  out.path = spec.substr(0, open);
  auto parse = [&](const std::string& text) -> StatusOr<std::optional<int64_t>> {
    if (text.empty()) return std::optional<int64_t>();
    int64_t v = -1;
    if (!ParseInt(text, &v) || v < 0) {
      return Status::InvalidArgument("bad dataset slice bound '" + text + "' in '" + spec + "'");
    }
    return std::optional<int64_t>(v);
  };
  TM_ASSIGN_OR_RETURN(out.begin, parse(spec.substr(open + 1, colon - open - 1)));
  TM_ASSIGN_OR_RETURN(out.end, parse(spec.substr(colon + 1, spec.size() - colon - 2)));
  return out;
}

}  // namespace

Dataset Dataset::Slice(int64_t begin, int64_t end) const {
  begin = std::clamp<int64_t>(begin, 0, size());
  end = std::clamp<int64_t>(end, begin, size());
  return Dataset{images.slice(0, begin, end), labels.slice(0, begin, end)};
}

StatusOr<DataSplits> LoadDataset(const std::string& spec) {
  TM_ASSIGN_OR_RETURN(SliceSpec parsed, ParseSpec(spec));
  std::error_code ec;
  if (!fs::exists(parsed.path, ec)) return Status::NotFound("no such dataset: " + parsed.path);
  StatusOr<DataSplits> loaded = fs::is_directory(parsed.path, ec) ? LoadIdxDirectory(parsed.path)
                                                                  : LoadTensorFile(parsed.path);
  if (!loaded.ok()) return loaded.status();
  DataSplits splits = std::move(loaded).value();
  int64_t n = splits.train.size();
  int64_t begin = parsed.begin.value_or(0), end = parsed.end.value_or(n);
  if (begin >= end || end > n) {
    return Status::InvalidArgument("dataset slice [" + std::to_string(begin) + ":" +
                                   std::to_string(end) + "] does not fit " + std::to_string(n) +
                                   " training rows of " + parsed.path);
  }
  splits.train = splits.train.Slice(begin, end);
  if (splits.train.size() == 0 || splits.test.size() == 0) {
    return Status::InvalidArgument("dataset " + spec + " has an empty train or test split");
  }
  return splits;
}

Status SaveDataset(const Dataset& train, const Dataset* test, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  // Stored as uint8 pixels, a quarter of the float size; loading rescales.
  auto pixels = [](const torch::Tensor& x) {
    return x.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8);
  };
  dict.insert("x", pixels(train.images));
  dict.insert("y", train.labels);
  if (test) {
    dict.insert("x_test", pixels(test->images));
    dict.insert("y_test", test->labels);
  }
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  return WriteFileAtomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace tracemark
