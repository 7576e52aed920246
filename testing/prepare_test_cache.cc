// The ctest fixture `test_model_cache`: trains the models most end-to-end
// tests share into BUILD/test-cache once, before any of them runs, so
// parallel tests never train the same model twice.
#include <cstdio>

#include "test_support.h"

int main() {
  using namespace tracemark::testing;
  std::printf("%s\n", CachedDemoCnn(0, OwnerData(), 2).c_str());
  std::printf("%s\n", CachedPythonMlp(0, "0:20000", 2).c_str());
  return 0;
}
