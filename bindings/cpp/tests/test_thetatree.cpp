// GoogleTest suite for thetatree.hpp: parity with the golden files for every reference model
// (every load mode, every predict overload), move semantics, and every exception path with its
// code/row/column/byte offset, including hostile model files.
//
// Environment (set by CTest): TT_MODELS_DIR, TT_SIGNED_MODEL, TT_TEST_KEY, TT_TEST_TMPDIR,
// TT_ERRORS_MODEL; optional TT_REFERENCE_DIR.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "golden.h"
#include "thetatree.hpp"

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::runtime_error(std::string("environment variable ") + name + " is not set");
  return v;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::string write_tmp(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string dir = env("TT_TEST_TMPDIR");
  ::mkdir(dir.c_str(), 0755);
  std::string path = dir + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
  return path;
}

std::string model_path(const std::string& name) {
  std::unique_ptr<char, decltype(&std::free)> p(ttt_model_path(name.c_str()), &std::free);
  return p.get();
}

struct Manifest {
  ttt_manifest m{};
  Manifest() {
    if (ttt_manifest_load(&m)) throw std::runtime_error("cannot load the reference manifest");
  }
  ~Manifest() { ttt_manifest_free(&m); }
  std::string dataset_of(const std::string& name) const {
    long i = ttt_manifest_find(&m, name.c_str());
    if (i < 0) throw std::runtime_error(name + " is not in the manifest");
    return m.models[i].dataset;
  }
};

struct Input {
  ttt_input in{};
  Input(const std::string& dataset, bool missing) {
    if (ttt_input_load(dataset.c_str(), missing, &in)) throw std::runtime_error("cannot load input " + dataset);
  }
  ~Input() { ttt_input_free(&in); }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
};

struct Golden {
  ttt_golden g{};
  Golden(const std::string& model, bool missing) {
    if (ttt_golden_load(model.c_str(), missing, &g)) throw std::runtime_error("cannot load golden " + model);
  }
  ~Golden() { ttt_golden_free(&g); }
  Golden(const Golden&) = delete;
  Golden& operator=(const Golden&) = delete;
};

bool same(double a, double b) { return ttt_same_double(a, b) != 0; }

// Root split column of the error-test model, from golden/edge_values__<model>.csv.
long root_column(const std::string& model) {
  std::string path = std::string(ttt_reference_dir()) + "/golden/edge_values__" + model + ".csv";
  size_t len = 0;
  char* text = ttt_read_data(path.c_str(), &len);
  if (!text) return -1;
  std::istringstream f(std::string(text, len));
  std::free(text);
  std::string header, line;
  if (!std::getline(f, header) || !std::getline(f, line)) return -1;
  std::istringstream fields(line);
  std::string row, col;
  std::getline(fields, row, ',');
  std::getline(fields, col, ',');
  return std::stol(col);
}

// Expect `stmt` to throw tt::Error with exactly this code, row, column and byte offset.
#define EXPECT_TT_ERROR(code_, row_, col_, off_, ...)                                      \
  do {                                                                                     \
    try {                                                                                  \
      __VA_ARGS__;                                                                         \
      ADD_FAILURE() << #__VA_ARGS__ << " did not throw (expected " << tt_status_str(code_) \
                    << ")";                                                                \
    } catch (const tt::Error& e_) {                                                        \
      EXPECT_EQ(e_.code(), (code_)) << #__VA_ARGS__ << ": " << e_.what();                  \
      EXPECT_EQ(e_.row(), (row_)) << #__VA_ARGS__ << ": " << e_.what();                    \
      EXPECT_EQ(e_.column(), (col_)) << #__VA_ARGS__ << ": " << e_.what();                 \
      EXPECT_EQ(e_.byte_offset(), static_cast<uint64_t>(off_)) << #__VA_ARGS__ << ": "     \
                                                                << e_.what();              \
      EXPECT_EQ(std::string(e_.what()).rfind(tt_status_str(code_), 0), 0u) << e_.what();   \
    }                                                                                      \
  } while (0)
#define EXPECT_TT_CODE(code_, ...) EXPECT_TT_ERROR(code_, -1, -1, 0, __VA_ARGS__)

// ---------------------------------------------------------------------------------------------

TEST(Version, AbiAndLibraryVersion) {
  EXPECT_EQ(tt_abi_version(), static_cast<uint32_t>(TT_ABI_VERSION));
  EXPECT_EQ(tt::version(), std::to_string(TT_VERSION_MAJOR) + "." + std::to_string(TT_VERSION_MINOR) +
                               "." + std::to_string(TT_VERSION_PATCH));
  EXPECT_NO_THROW(tt::detail::check_abi(TT_ABI_VERSION));
  // What Model::load throws when the loaded library implements another ABI.
  EXPECT_TT_CODE(TT_ERR_VERSION, tt::detail::check_abi(TT_ABI_VERSION + 1));
  try {
    tt::detail::check_abi(TT_ABI_VERSION + 1);
  } catch (const tt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("ABI mismatch"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Parity: every reference model, every load mode, every predict overload, bit for bit.

enum class Load { Path, PathCopy, Bytes, Borrow };
const char* load_name(Load l) {
  switch (l) {
    case Load::Path: return "load(path)";
    case Load::PathCopy: return "load(path, COPY)";
    case Load::Bytes: return "load_bytes";
    case Load::Borrow: return "load_bytes(BORROW)";
  }
  return "?";
}

struct Counter {
  size_t checks = 0, mismatches = 0;
  void label(const std::string& what, size_t r, const ttt_golden& g, int32_t got) {
    checks++;
    if (got != g.pred[r] && mismatches++ < 20)
      ADD_FAILURE() << what << " row " << r << ": label " << got << ", golden " << g.pred[r];
  }
  // Rows with golden probabilities: bitwise. Rows without (a pruned leaf): valid and equal to
  // `ref` (the int8 result of the same call sequence).
  void proba(const std::string& what, size_t r, const ttt_golden& g, const double* p, const double* ref) {
    checks++;
    bool ok;
    if (g.has_proba[r])
      ok = same(p[0], g.p0[r]) && same(p[1], g.p1[r]);
    else
      ok = std::isfinite(p[0]) && std::isfinite(p[1]) && p[0] >= 0 && p[1] >= 0 &&
           std::fabs(p[0] + p[1] - 1.0) <= 1e-12 && (!ref || (same(p[0], ref[0]) && same(p[1], ref[1])));
    if (!ok && mismatches++ < 20)
      ADD_FAILURE() << what << " row " << r << ": p = (" << p[0] << ", " << p[1] << "), golden ("
                    << (g.has_proba[r] ? std::to_string(g.p0[r]) : "none") << ")";
  }
};

TEST(Parity, EveryReferenceModelMatchesGoldenBitForBit) {
  Manifest man;
  Counter c;
  size_t rows = 0;
  for (size_t i = 0; i < man.m.n; i++) {
    const std::string name = man.m.models[i].name, dataset = man.m.models[i].dataset;
    const std::string path = model_path(name);
    const std::vector<uint8_t> file = read_bytes(path);
    for (bool missing : {false, true}) {
      Input input(dataset, missing);
      Golden golden(name, missing);
      const ttt_input& in = input.in;
      const ttt_golden& g = golden.g;
      ASSERT_EQ(in.n_rows, g.n_rows) << name;
      const size_t n = in.n_rows, nf = in.n_cols;
      rows += n;
      for (Load mode : {Load::Path, Load::PathCopy, Load::Bytes, Load::Borrow}) {
        const std::string what = name + (missing ? " X_missing " : " X ") + load_name(mode);
        tt::Model m;
        switch (mode) {
          case Load::Path: m = tt::Model::load(path); break;
          case Load::PathCopy: m = tt::Model::load(path, TT_LOAD_COPY); break;
          case Load::Bytes: m = tt::Model::load_bytes(file.data(), file.size()); break;
          case Load::Borrow: m = tt::Model::load_bytes(file.data(), file.size(), TT_LOAD_BORROW); break;
        }
        ASSERT_TRUE(m.valid());
        ASSERT_EQ(m.n_features(), nf) << what;
        for (size_t j = 0; j < nf; j++) ASSERT_EQ(m.feature_name(j), in.names[j]) << what;

        const std::vector<int32_t> l8 = m.predict(in.x8, n, nf), l64 = m.predict(in.x64, n, nf);
        const std::vector<double> p8 = m.predict_proba(in.x8, n, nf), p64 = m.predict_proba(in.x64, n, nf);
        ASSERT_EQ(l8.size(), n);
        ASSERT_EQ(p8.size(), 2 * n);
        std::vector<int32_t> li8(n, -7), li64(n, -7);
        std::vector<double> pi8(2 * n, -1), pi64(2 * n, -1);
        m.predict_into(in.x8, n, nf, li8.data(), li8.size());
        m.predict_into(in.x64, n, nf, li64.data(), li64.size());
        m.predict_proba_into(in.x8, n, nf, pi8.data(), pi8.size());
        m.predict_proba_into(in.x64, n, nf, pi64.data(), pi64.size());
        for (size_t r = 0; r < n; r++) {
          c.label(what + " predict(int8)", r, g, l8[r]);
          c.label(what + " predict(double)", r, g, l64[r]);
          c.label(what + " predict_into(int8)", r, g, li8[r]);
          c.label(what + " predict_into(double)", r, g, li64[r]);
          c.proba(what + " predict_proba(int8)", r, g, &p8[2 * r], nullptr);
          c.proba(what + " predict_proba(double)", r, g, &p64[2 * r], &p8[2 * r]);
          c.proba(what + " predict_proba_into(int8)", r, g, &pi8[2 * r], &p8[2 * r]);
          c.proba(what + " predict_proba_into(double)", r, g, &pi64[2 * r], &p8[2 * r]);
        }
#ifdef TT_HAS_SPAN
        const std::span<const int8_t> s8(in.x8, n * nf);
        const std::span<const double> s64(in.x64, n * nf);
        const std::vector<int32_t> sl8 = m.predict(s8), sl64 = m.predict(s64);
        const std::vector<double> sp8 = m.predict_proba(s8), sp64 = m.predict_proba(s64);
        std::vector<int32_t> sli(n, -7);
        std::vector<double> spi(2 * n, -1);
        m.predict_into(s64, std::span<int32_t>(sli));
        m.predict_proba_into(s8, std::span<double>(spi));
        for (size_t r = 0; r < n; r++) {
          c.label(what + " span predict(int8)", r, g, sl8[r]);
          c.label(what + " span predict(double)", r, g, sl64[r]);
          c.label(what + " span predict_into(double)", r, g, sli[r]);
          c.proba(what + " span predict_proba(int8)", r, g, &sp8[2 * r], &p8[2 * r]);
          c.proba(what + " span predict_proba(double)", r, g, &sp64[2 * r], &p8[2 * r]);
          c.proba(what + " span predict_proba_into(int8)", r, g, &spi[2 * r], &p8[2 * r]);
        }
#endif
      }
    }
  }
  std::printf("parity (C++%s): %zu models, %zu rows, %zu checks, %zu mismatches\n",
#ifdef TT_HAS_SPAN
              "20",
#else
              "17",
#endif
              man.m.n, rows, c.checks, c.mismatches);
  EXPECT_GT(man.m.n, 0u);
  EXPECT_GT(rows, 0u);
  EXPECT_EQ(c.mismatches, 0u);
}

// ---------------------------------------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<tt::Model>, "Model must not be copyable");
static_assert(!std::is_copy_assignable_v<tt::Model>, "Model must not be copy-assignable");
static_assert(std::is_nothrow_move_constructible_v<tt::Model>, "Model moves must not throw");
static_assert(std::is_nothrow_move_assignable_v<tt::Model>, "Model moves must not throw");
static_assert(std::is_nothrow_default_constructible_v<tt::Model>, "empty Model");
static_assert(std::is_base_of_v<std::runtime_error, tt::Error>, "Error is a runtime_error");

void expect_empty(const tt::Model& m) {
  EXPECT_FALSE(m.valid());
  EXPECT_FALSE(static_cast<bool>(m));
  EXPECT_EQ(m.get(), nullptr);
  EXPECT_EQ(m.n_features(), 0u);
  EXPECT_EQ(m.n_classes(), 0u);
  EXPECT_EQ(m.n_nodes(), 0u);
  EXPECT_EQ(m.crc32(), 0u);
  EXPECT_FALSE(m.is_signed());
  int8_t x[1] = {0};
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.predict(x, 1, 1));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.predict_proba(x, 1, 1));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.digest());
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.feature_name(0));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.feature_index("x"));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.class_label(0));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.model_version());
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.metadata_json());
}

// Explanations (issue 15): leaf indices equal the golden leaf_preorder on every row; paths run
// from the root to that leaf along node()'s children; contributions add up to P(class 1).
TEST(Explain, LeafPathContribAndNodeOnEveryReferenceModel) {
  Manifest man;
  size_t rows = 0;
  for (size_t i = 0; i < man.m.n; i++) {
    const std::string name = man.m.models[i].name, dataset = man.m.models[i].dataset;
    tt::Model m = tt::Model::load(model_path(name));
    for (bool missing : {false, true}) {
      Input input(dataset, missing);
      Golden golden(name, missing);
      const ttt_input& in = input.in;
      const size_t n = in.n_rows, nf = in.n_cols;
      ASSERT_EQ(n, golden.g.n_rows) << name;
      std::vector<int32_t> leaf = m.predict_leaf(in.x8, n, nf);
      ASSERT_EQ(m.predict_leaf(in.x64, n, nf), leaf) << name;
      std::vector<double> proba = m.predict_proba(in.x8, n, nf);
      std::vector<double> contrib = m.predict_contrib(in.x8, n, nf);
      ASSERT_EQ(contrib.size(), n * (nf + 1));
      ASSERT_EQ(m.predict_contrib(in.x64, n, nf), contrib) << name;
      for (size_t r = 0; r < n; r++) {
        ASSERT_EQ(leaf[r], golden.g.leaf_preorder[r]) << name << " missing=" << missing << " row " << r;
        double sum = 0;
        for (size_t j = 0; j <= nf; j++) sum += contrib[r * (nf + 1) + j];
        ASSERT_NEAR(sum, proba[2 * r + 1], 1e-12) << name << " row " << r;
        if (r % 97 != 0) continue;  // paths: a sample of rows (the C test walks them all)
        std::vector<int32_t> path = m.decision_path(in.x8 + r * nf, nf);
        ASSERT_FALSE(path.empty());
        EXPECT_EQ(path.front(), 0);
        EXPECT_EQ(path.back(), leaf[r]);
        EXPECT_EQ(m.decision_path(in.x64 + r * nf, nf), path);
        for (size_t k = 0; k + 1 < path.size(); k++) {
          tt_node nd = m.node(static_cast<size_t>(path[k]));
          ASSERT_EQ(nd.is_leaf, 0);
          int8_t v = in.x8[r * nf + static_cast<size_t>(nd.feature)];
          bool right = v == 1 || (v == -1 && nd.missing_right);
          EXPECT_EQ(path[k + 1], right ? nd.right : nd.left);
        }
        EXPECT_EQ(m.node(static_cast<size_t>(path.back())).is_leaf, 1);
      }
      rows += n;
    }
    EXPECT_TT_CODE(TT_ERR_NOT_FOUND, m.node(m.n_nodes()));
    std::vector<int8_t> row(m.n_features(), 0);
    EXPECT_TT_CODE(TT_ERR_SHAPE, m.decision_path(row.data(), row.size() + 1));
    std::vector<int32_t> short_out(1);
    EXPECT_TT_CODE(TT_ERR_LENGTH, m.predict_leaf_into(row.data(), 1, row.size(), short_out.data(), 0));
  }
  EXPECT_GT(rows, 0u);
  tt::Model empty;
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, empty.node(0));
}

TEST(Model, MoveSemantics) {
  const std::string name = env("TT_ERRORS_MODEL");
  Manifest man;
  Input input(man.dataset_of(name), false);
  Golden golden(name, false);
  const size_t n = 64, nf = input.in.n_cols;

  tt::Model a = tt::Model::load(model_path(name));
  const tt_model* handle = a.get();
  ASSERT_NE(handle, nullptr);
  const auto digest = a.digest();

  tt::Model b(std::move(a));  // move construction transfers the handle
  expect_empty(a);
  EXPECT_EQ(b.get(), handle);
  EXPECT_EQ(b.digest(), digest);

  tt::Model c;
  expect_empty(c);
  c = std::move(b);  // move assignment into an empty model
  expect_empty(b);
  EXPECT_EQ(c.get(), handle);

  tt::Model d = tt::Model::load(model_path(name), TT_LOAD_COPY);
  d = std::move(c);  // move assignment over a loaded model frees the old one (LSan checks)
  EXPECT_EQ(d.get(), handle);
  expect_empty(c);

  tt::Model& alias = d;
  d = std::move(alias);  // self-move leaves the model intact
  EXPECT_EQ(d.get(), handle);

  // Models in a growing vector (moved on reallocation) keep working.
  std::vector<tt::Model> models;
  for (int i = 0; i < 9; i++) models.push_back(tt::Model::load(model_path(name), i % 2 ? TT_LOAD_COPY : 0));
  models.push_back(std::move(d));
  expect_empty(d);
  for (const tt::Model& m : models) {
    const std::vector<int32_t> labels = m.predict(input.in.x8, n, nf);
    for (size_t r = 0; r < n; r++) ASSERT_EQ(labels[r], golden.g.pred[r]);
    EXPECT_EQ(m.digest(), digest);
  }
  EXPECT_EQ(models.back().get(), handle);
}

TEST(Model, Metadata) {
  Manifest man;
  for (size_t i = 0; i < man.m.n; i++) {
    const std::string name = man.m.models[i].name;
    Input input(man.m.models[i].dataset, false);
    const std::vector<uint8_t> file = read_bytes(model_path(name));
    tt::Model m = tt::Model::load(model_path(name));
    ASSERT_EQ(m.n_features(), input.in.n_cols) << name;
    EXPECT_EQ(m.n_classes(), 2u);
    EXPECT_EQ(m.n_leaves(), (m.n_nodes() + 1) / 2) << name;
    for (size_t j = 0; j < m.n_features(); j++) {
      const std::string f = m.feature_name(j);
      EXPECT_EQ(f, input.in.names[j]);
      EXPECT_EQ(m.feature_index(f), std::optional<size_t>(j)) << f;
      EXPECT_EQ(m.feature_index(f + "~"), std::nullopt) << f;
      EXPECT_EQ(m.feature_index(f + std::string(1, '\0') + "x"), std::nullopt) << "embedded NUL";
    }
    EXPECT_EQ(m.feature_index(""), std::nullopt);
    EXPECT_TT_CODE(TT_ERR_NOT_FOUND, m.feature_name(m.n_features()));
    EXPECT_TT_CODE(TT_ERR_NOT_FOUND, m.class_label(2));
    const std::string l0 = m.class_label(0), l1 = m.class_label(1);
    EXPECT_FALSE(l0.empty());
    EXPECT_NE(l0, l1);
    EXPECT_EQ(m.model_version(), tt_model_version(m.get()));
    const std::string meta = m.metadata_json();
    ASSERT_FALSE(meta.empty());
    EXPECT_EQ(meta.front(), '{');
    EXPECT_EQ(meta.back(), '}');
    EXPECT_EQ(m.crc32(), ttt_crc32(ttt_crc32(0, file.data(), 32), file.data() + 36, file.size() - 36));
    std::array<uint8_t, 32> sha;
    ttt_sha256(file.data(), file.size(), sha.data());
    EXPECT_EQ(m.digest(), sha) << name;
    EXPECT_FALSE(m.is_signed());
  }
}

// ---------------------------------------------------------------------------------------------
// Exceptions: every path carries the right code, row, column and byte offset.

class Errors : public ::testing::Test {
 protected:
  void SetUp() override {
    name = env("TT_ERRORS_MODEL");
    path = model_path(name);
    file = read_bytes(path);
    m = tt::Model::load(path);
    input = std::make_unique<Input>(man.dataset_of(name), false);
    golden = std::make_unique<Golden>(name, false);
    nf = m.n_features();
    root = root_column(name);
    ASSERT_GE(root, 0);
    ASSERT_LT(static_cast<size_t>(root), nf);
    ASSERT_EQ(input->in.n_cols, nf);
  }
  Manifest man;
  std::string name, path;
  std::vector<uint8_t> file;
  tt::Model m;
  std::unique_ptr<Input> input;
  std::unique_ptr<Golden> golden;
  size_t nf = 0;
  long root = -1;
};

TEST_F(Errors, LoadArguments) {
  const std::string dir = env("TT_TEST_TMPDIR");
  ::mkdir(dir.c_str(), 0755);
  EXPECT_TT_CODE(TT_ERR_IO, tt::Model::load(dir + "/no-such-file.ttm"));
  EXPECT_TT_CODE(TT_ERR_IO, tt::Model::load(dir + "/no-such-file.ttm", TT_LOAD_COPY));
  EXPECT_TT_CODE(TT_ERR_IO, tt::Model::load(path + std::string(1, '\0') + "x"));
  EXPECT_TT_CODE(TT_ERR_FLAGS, tt::Model::load(path, 16));
  EXPECT_TT_CODE(TT_ERR_FLAGS, tt::Model::load(path, TT_LOAD_BORROW));
  EXPECT_TT_CODE(TT_ERR_FLAGS, tt::Model::load_bytes(file.data(), file.size(), TT_LOAD_COPY | TT_LOAD_BORROW));
  EXPECT_TT_CODE(TT_ERR_FLAGS, tt::Model::load_bytes(file.data(), file.size(), 0x100));
  EXPECT_TT_CODE(TT_ERR_NO_KEY, tt::Model::load(path, TT_LOAD_REQUIRE_SIGNATURE));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, tt::Model::load_bytes(nullptr, 10));
  EXPECT_TT_CODE(TT_ERR_TRUNCATED, tt::Model::load_bytes(nullptr, 0));  // empty span: no model
}

TEST_F(Errors, HostileFiles) {
  const uint64_t len = file.size();
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    int32_t code;
    uint64_t offset;
  };
  std::vector<Case> cases;
  {
    std::vector<uint8_t> b = file;
    b[b.size() / 2] ^= 0x40;
    cases.push_back({"flipped-middle.ttm", b, TT_ERR_CHECKSUM, 32});
    b = file;
    b[44] ^= 0x01;  // a header count field: still caught by the CRC first
    cases.push_back({"flipped-header.ttm", b, TT_ERR_CHECKSUM, 32});
  }
  cases.push_back({"truncated.ttm", std::vector<uint8_t>(file.begin(), file.begin() + len / 3),
                   TT_ERR_TRUNCATED, len / 3});
  cases.push_back({"header-only.ttm", std::vector<uint8_t>(file.begin(), file.begin() + 100),
                   TT_ERR_TRUNCATED, 100});
  cases.push_back({"garbage.ttm", std::vector<uint8_t>(1000, 'Z'), TT_ERR_BAD_MAGIC, 0});
  {
    std::vector<uint8_t> b = file;
    b.push_back(0);
    cases.push_back({"trailing.ttm", b, TT_ERR_TRAILING_BYTES, len});
  }
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string p = write_tmp(k.name, k.bytes);
    EXPECT_TT_ERROR(k.code, -1, -1, k.offset, tt::Model::load(p));
    EXPECT_TT_ERROR(k.code, -1, -1, k.offset, tt::Model::load(p, TT_LOAD_COPY));
    EXPECT_TT_ERROR(k.code, -1, -1, k.offset, tt::Model::load_bytes(k.bytes.data(), k.bytes.size()));
    EXPECT_TT_ERROR(k.code, -1, -1, k.offset,
                    tt::Model::load_bytes(k.bytes.data(), k.bytes.size(), TT_LOAD_BORROW));
  }
}

TEST_F(Errors, Signatures) {
  const std::string signed_path = env("TT_SIGNED_MODEL"), key = env("TT_TEST_KEY");
  const std::vector<uint8_t> sfile = read_bytes(signed_path);
  ASSERT_GT(sfile.size(), file.size());
  const uint64_t model_len = sfile.size() - 64;  // trailer: key id at +8, MAC at +32

  tt::Model s = tt::Model::load_verified(signed_path, key);
  EXPECT_TRUE(s.is_signed());
  EXPECT_EQ(s.digest(), m.digest());  // the identity excludes the trailer
  tt::Model s2 = tt::Model::load_bytes_verified(sfile.data(), sfile.size(),
                                                reinterpret_cast<const uint8_t*>(key.data()), key.size());
  EXPECT_EQ(s2.crc32(), m.crc32());

  EXPECT_TT_CODE(TT_ERR_UNSIGNED, tt::Model::load_verified(path, key));
  EXPECT_TT_CODE(TT_ERR_NO_KEY, tt::Model::load_verified(signed_path, std::string_view()));
  EXPECT_TT_ERROR(TT_ERR_KEY_MISMATCH, -1, -1, model_len + 8, tt::Model::load_verified(signed_path, "wrong key"));
  std::vector<uint8_t> tampered = sfile;
  tampered[model_len / 2] ^= 0x01;
  const std::string tp = write_tmp("tampered-signed.ttm", tampered);
  EXPECT_TT_ERROR(TT_ERR_BAD_SIGNATURE, -1, -1, model_len + 32, tt::Model::load_verified(tp, key));
  EXPECT_TT_ERROR(TT_ERR_BAD_SIGNATURE, -1, -1, model_len + 32,
                  tt::Model::load_bytes_verified(tampered.data(), tampered.size(),
                                                 reinterpret_cast<const uint8_t*>(key.data()), key.size()));
  EXPECT_TT_ERROR(TT_ERR_CHECKSUM, -1, -1, 32, tt::Model::load(tp));
}

TEST_F(Errors, PredictArguments) {
  const int8_t* x8 = input->in.x8;
  const double* x64 = input->in.x64;
  const size_t n = 5;
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict(x8, n, nf - 1));
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict(x64, n, nf + 1));
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict_proba(x8, n, 0));
  // Overflowing shapes are reported before any allocation (no std::bad_alloc).
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict(x8, SIZE_MAX, nf));
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict_proba(x64, SIZE_MAX / nf + 1, nf));
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict_proba(x8, SIZE_MAX / 2, nf));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.predict(static_cast<const int8_t*>(nullptr), n, nf));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.predict_proba(static_cast<const double*>(nullptr), n, nf));

  // Output too short: nothing written.
  std::vector<int32_t> labels(n, -7);
  std::vector<double> proba(2 * n, -1.0);
  EXPECT_TT_CODE(TT_ERR_LENGTH, m.predict_into(x8, n, nf, labels.data(), n - 1));
  EXPECT_TT_CODE(TT_ERR_LENGTH, m.predict_proba_into(x64, n, nf, proba.data(), 2 * n - 1));
  EXPECT_TT_CODE(TT_ERR_LENGTH, m.predict_into(x8, n, nf, nullptr, 0));
  EXPECT_TT_CODE(TT_ERR_NULL_ARG, m.predict_into(x8, n, nf, nullptr, n));
  EXPECT_EQ(labels, std::vector<int32_t>(n, -7));
  EXPECT_EQ(proba, std::vector<double>(2 * n, -1.0));

  // Misaligned pointers.
  std::vector<double> buf(2 * n * nf + 2);
  std::memcpy(reinterpret_cast<char*>(buf.data()) + 1, x64, n * nf * sizeof(double));
  const double* mis_x = reinterpret_cast<const double*>(reinterpret_cast<const char*>(buf.data()) + 1);
  EXPECT_TT_CODE(TT_ERR_ALIGNMENT, m.predict(mis_x, n, nf));
  EXPECT_TT_CODE(TT_ERR_ALIGNMENT, m.predict_proba(mis_x, n, nf));
  double* mis_out = reinterpret_cast<double*>(reinterpret_cast<char*>(buf.data()) + 4);
  EXPECT_TT_CODE(TT_ERR_ALIGNMENT, m.predict_proba_into(x8, n, nf, mis_out, 2 * n));
  int32_t* mis_labels = reinterpret_cast<int32_t*>(reinterpret_cast<char*>(buf.data()) + 2);
  EXPECT_TT_CODE(TT_ERR_ALIGNMENT, m.predict_into(x64, n, nf, mis_labels, n));

  // Empty inputs: (nullptr, 0) is a valid empty span; n_cols is still checked.
  EXPECT_TRUE(m.predict(static_cast<const int8_t*>(nullptr), 0, nf).empty());
  EXPECT_TRUE(m.predict_proba(static_cast<const double*>(nullptr), 0, nf).empty());
  EXPECT_NO_THROW(m.predict_into(static_cast<const int8_t*>(nullptr), 0, nf, nullptr, 0));
  EXPECT_TT_CODE(TT_ERR_SHAPE, m.predict(static_cast<const int8_t*>(nullptr), 0, nf + 1));
}

TEST_F(Errors, InputValuesNameRowAndColumn) {
  const size_t n = 6, bad_row = 4;
  const int8_t bad8[] = {2, -2, 100, -128};
  const double bad64[] = {2.0, -1.0, 0.5, 1e-300, INFINITY, -INFINITY, 1.0000000000000002};
  for (int8_t v : bad8) {
    std::vector<int8_t> x(input->in.x8, input->in.x8 + n * nf);
    x[bad_row * nf + root] = v;
    SCOPED_TRACE("int8 value " + std::to_string(v));
    EXPECT_TT_ERROR(TT_ERR_INPUT_VALUE, static_cast<int64_t>(bad_row), root, 0, m.predict(x.data(), n, nf));
    std::vector<double> out(2 * n, -1.0);
    EXPECT_TT_ERROR(TT_ERR_INPUT_VALUE, static_cast<int64_t>(bad_row), root, 0,
                    m.predict_proba_into(x.data(), n, nf, out.data(), out.size()));
    for (size_t r = 0; r < bad_row; r++) {  // earlier rows are written
      EXPECT_TRUE(same(out[2 * r], golden->g.p0[r]) && same(out[2 * r + 1], golden->g.p1[r])) << r;
    }
  }
  for (double v : bad64) {
    std::vector<double> x(input->in.x64, input->in.x64 + n * nf);
    x[bad_row * nf + root] = v;
    SCOPED_TRACE("double value " + std::to_string(v));
    std::vector<int32_t> out(n, -7);
    EXPECT_TT_ERROR(TT_ERR_INPUT_VALUE, static_cast<int64_t>(bad_row), root, 0,
                    m.predict_into(x.data(), n, nf, out.data(), out.size()));
    for (size_t r = 0; r < bad_row; r++) EXPECT_EQ(out[r], golden->g.pred[r]) << r;
    EXPECT_TT_ERROR(TT_ERR_INPUT_VALUE, static_cast<int64_t>(bad_row), root, 0, m.predict_proba(x.data(), n, nf));
  }
}

TEST_F(Errors, CatchAsRuntimeError) {
  try {
    (void)m.class_label(7);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    const auto* te = dynamic_cast<const tt::Error*>(&e);
    ASSERT_NE(te, nullptr);
    EXPECT_EQ(te->code(), TT_ERR_NOT_FOUND);
    EXPECT_STREQ(te->code_name(), "TT_ERR_NOT_FOUND");
    EXPECT_NE(std::string(e.what()).find("TT_ERR_NOT_FOUND: "), std::string::npos) << e.what();
  }
}

}  // namespace
