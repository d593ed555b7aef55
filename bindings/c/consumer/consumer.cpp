// consumer MODEL.ttm: the C++ wrapper from an installed thetatree; same output as consumer.c.
#include <cstdio>
#include <thetatree.hpp>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    const tt::Model m = tt::Model::load(argv[1]);
    const std::vector<int8_t> x(m.n_features(), 0);
    const std::vector<int32_t> label = m.predict(x.data(), 1, x.size());
    const std::vector<double> p = m.predict_proba(x.data(), 1, x.size());
    std::printf("label %d p0 %.17g p1 %.17g\n", label[0], p[0], p[1]);
  } catch (const tt::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
