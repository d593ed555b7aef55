// predict MODEL.ttm INPUT.csv: the C++ counterpart of bindings/c/examples/predict_csv.c.
// Columns are matched to model features by header name (others ignored, absent features are
// missing); cells are 0, 1 or empty (missing). Rows are predicted in one batch per call.
// Prints `line,pred,label,p0,p1`.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "thetatree.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " MODEL.ttm INPUT.csv\n";
    return 2;
  }
  try {
    const tt::Model model = tt::Model::load(argv[1]);
    const size_t nf = model.n_features();
    std::ifstream csv(argv[2]);
    if (!csv) throw std::runtime_error(std::string("cannot open ") + argv[2]);

    std::string line, cell;
    std::vector<std::optional<size_t>> column_feature;  // CSV column -> model feature
    if (std::getline(csv, line)) {
      std::istringstream header(line);
      while (std::getline(header, cell, ',')) column_feature.push_back(model.feature_index(cell));
    }
    std::vector<int8_t> x;  // row-major, n_rows x nf; -1 = missing
    while (std::getline(csv, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      x.insert(x.end(), nf, int8_t{-1});
      std::istringstream row(line + ",");  // the trailing comma keeps a last empty cell
      for (size_t c = 0; c < column_feature.size() && std::getline(row, cell, ','); c++)
        if (column_feature[c] && !cell.empty())
          x[x.size() - nf + *column_feature[c]] = static_cast<int8_t>(std::stoi(cell));
    }
    const size_t n_rows = nf ? x.size() / nf : 0;
    const std::vector<int32_t> labels = model.predict(x.data(), n_rows, nf);
    const std::vector<double> proba = model.predict_proba(x.data(), n_rows, nf);
    const std::string names[2] = {model.class_label(0), model.class_label(1)};
    std::printf("line,pred,label,p0,p1\n");
    for (size_t r = 0; r < n_rows; r++)
      std::printf("%zu,%d,%s,%.17g,%.17g\n", r + 1, labels[r], names[labels[r]].c_str(),
                  proba[2 * r], proba[2 * r + 1]);
  } catch (const tt::Error& e) {
    std::cerr << "thetatree: " << e.what();
    if (e.row() >= 0) std::cerr << " (row " << e.row() << ", column " << e.column() << ")";
    std::cerr << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
