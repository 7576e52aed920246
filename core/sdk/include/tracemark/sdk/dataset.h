// Datasets: Fashion-MNIST/MNIST IDX directories and tensors saved from
// Python with torch.save({"x": X, "y": Y}, path). Models receive float32
// [N, C, H, W] in [0, 1]; labels are int64 [N].
#pragma once

#include <torch/types.h>

#include <string>

#include "tracemark/base/status.h"

namespace tracemark {

struct Dataset {
  torch::Tensor images;  // float32 [N, C, H, W] in [0, 1]
  torch::Tensor labels;  // int64 [N]
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  // Rows [begin, end) clamped to the size; shares storage.
  Dataset Slice(int64_t begin, int64_t end) const;
};

struct DataSplits {
  Dataset train;
  Dataset test;
};

// Loads a dataset spec:
//   DIR           train-{images-idx3,labels-idx1}-ubyte[.gz] and t10k-… files
//   FILE.pt       torch.save dict with "x", "y" and optionally "x_test",
//                 "y_test"; without them the last 10 % of rows is the test split
//   SPEC[a:b]     either of the above, training rows a..b-1 only (python slice;
//                 either bound may be omitted)
// x may be uint8 (scaled by 1/255) or floating point in [0, 1], shaped
// [N, H, W] or [N, C, H, W]. NotFound for a missing path, InvalidArgument
// for anything malformed (bad magic, sizes that disagree, bad slice).
StatusOr<DataSplits> LoadDataset(const std::string& spec);

// Writes `train` (and `test`) as a torch.save-compatible dict file.
Status SaveDataset(const Dataset& train, const Dataset* test, const std::string& path);

}  // namespace tracemark
