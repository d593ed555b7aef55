// thetatree.hpp: header-only C++17 RAII wrapper over the thetatree C ABI (thetatree.h).
//
//   tt::Model m = tt::Model::load("model.ttm");
//   std::vector<int32_t> labels = m.predict(x.data(), n_rows, m.n_features());
//   std::vector<double>  proba  = m.predict_proba(x.data(), n_rows, m.n_features());  // 2/row
//   std::vector<int32_t> leaves = m.predict_leaf(x.data(), n_rows, m.n_features());   // node index
//   std::vector<int32_t> path   = m.decision_path(x.data(), m.n_features());          // one row
//
// * Every failure throws tt::Error (a std::runtime_error) carrying the C status code and, where
//   they apply, the input row/column and the model-file byte offset.
// * tt::Model is movable, not copyable; a moved-from Model is empty (valid() == false): its
//   getters return 0/empty and its fallible calls throw tt::Error(TT_ERR_NULL_ARG).
// * Inputs are (pointer, size) spans, row-major, n_rows x n_cols; int8: 0/1/-1 (missing),
//   double: 0.0/1.0/NaN (missing). An empty span may be (nullptr, 0).
// * *_into() variants write into caller memory and never allocate.
// * Thread safety is that of the C ABI: any number of threads may predict with one Model at
//   once; destroying or assigning a Model must not race with other calls on it.
// * Link with thetatree::thetatree (or thetatree::static) from find_package(thetatree).
#ifndef THETATREE_HPP
#define THETATREE_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#define TT_HAS_SPAN 1
#endif

#include "thetatree.h"

namespace tt {

static_assert(TT_DIGEST_LEN == 32, "thetatree.h: unexpected digest length");
static_assert(TT_N_CLASSES == 2, "thetatree.h: unexpected class count");

/// A failed thetatree call. code() is a TT_ERR_* status; row()/column() locate a bad input
/// cell (-1 otherwise); byte_offset() locates the offending field of a model file (0 otherwise).
class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& message, int64_t row = -1, int64_t column = -1,
        uint64_t byte_offset = 0)
      : std::runtime_error(std::string(tt_status_str(code)) + ": " + message),
        code_(code),
        row_(row),
        column_(column),
        byte_offset_(byte_offset) {}

  /// From a failed C call: `rc` is its return value, `e` the tt_error it filled.
  Error(int32_t rc, const tt_error& e)
      : Error(rc, message_of(rc, e), e.code == rc ? e.row : -1, e.code == rc ? e.column : -1,
              e.code == rc ? e.byte_offset : 0) {}

  int32_t code() const noexcept { return code_; }
  /// The macro name of code(), e.g. "TT_ERR_CHECKSUM".
  const char* code_name() const noexcept { return tt_status_str(code_); }
  int64_t row() const noexcept { return row_; }
  int64_t column() const noexcept { return column_; }
  uint64_t byte_offset() const noexcept { return byte_offset_; }

 private:
  static std::string message_of(int32_t rc, const tt_error& e) {
    if (e.code != rc) return "(the library returned no error details)";
    std::size_t n = 0;
    while (n < sizeof e.message && e.message[n] != '\0') n++;
    return std::string(e.message, n);
  }

  int32_t code_;
  int64_t row_, column_;
  uint64_t byte_offset_;
};

namespace detail {

inline tt_error fresh_error() noexcept {
  tt_error e{};
  e.code = TT_OK;
  e.row = e.column = -1;
  return e;
}

inline void check(int32_t rc, const tt_error& e) {
  if (rc != TT_OK) throw Error(rc, e);
}

/// Throws unless the loaded library implements the ABI this header was compiled against.
inline void check_abi(uint32_t library_abi) {
  if (library_abi != TT_ABI_VERSION)
    throw Error(TT_ERR_VERSION, "thetatree ABI mismatch: compiled against TT_ABI_VERSION " +
                                    std::to_string(TT_ABI_VERSION) +
                                    " but the loaded library implements ABI " +
                                    std::to_string(library_abi) + " (version " +
                                    tt_version_string() + "); rebuild against its thetatree.h");
}

/// The C ABI rejects NULL pointers even for empty arrays; an empty C++ span may be nullptr.
template <typename T>
inline const T* nonnull_in(const T* p) noexcept {
  alignas(8) static const T empty[1] = {};
  return p ? p : empty;
}
template <typename T>
inline T* nonnull_out(T* p, std::size_t len, T* scratch) noexcept {
  return p ? p : (len == 0 ? scratch : p);
}

inline void check_path(const std::string& path) {
  if (path.find('\0') != std::string::npos)
    throw Error(TT_ERR_IO, "model path contains a NUL byte");
}

}  // namespace detail

/// The library version string, e.g. "0.1.0".
inline std::string version() { return tt_version_string(); }

class Model {
 public:
  /// An empty model (valid() == false). Use load(), load_bytes() or load_verified().
  Model() noexcept = default;
  ~Model() { tt_free(m_); }

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&& other) noexcept : m_(std::exchange(other.m_, nullptr)) {}
  Model& operator=(Model&& other) noexcept {
    if (this != &other) {
      tt_free(m_);
      m_ = std::exchange(other.m_, nullptr);
    }
    return *this;
  }

  /// Load and validate a .ttm file: memory-mapped (TT_LOAD_DEFAULT) or copied (TT_LOAD_COPY).
  static Model load(const std::string& path, uint32_t flags = TT_LOAD_DEFAULT) {
    detail::check_abi(tt_abi_version());
    detail::check_path(path);
    tt_error e = detail::fresh_error();
    tt_model* m = nullptr;
    detail::check(tt_load(path.c_str(), flags, &m, &e), e);
    return Model(m);
  }

  /// Load from memory: copied, or with TT_LOAD_BORROW used in place (the bytes must then stay
  /// alive and unchanged for the life of the Model and of whatever it is moved into).
  static Model load_bytes(const uint8_t* data, std::size_t len, uint32_t flags = TT_LOAD_DEFAULT) {
    detail::check_abi(tt_abi_version());
    tt_error e = detail::fresh_error();
    tt_model* m = nullptr;
    detail::check(tt_load_bytes(len == 0 ? detail::nonnull_in(data) : data, len, flags, &m, &e), e);
    return Model(m);
  }

  /// Load a file after verifying its HMAC-SHA256 signature with `key`.
  static Model load_verified(const std::string& path, const uint8_t* key, std::size_t key_len,
                             uint32_t flags = TT_LOAD_DEFAULT) {
    detail::check_abi(tt_abi_version());
    detail::check_path(path);
    tt_error e = detail::fresh_error();
    tt_model* m = nullptr;
    detail::check(tt_load_verified(path.c_str(), key, key_len, flags, &m, &e), e);
    return Model(m);
  }
  static Model load_verified(const std::string& path, std::string_view key,
                             uint32_t flags = TT_LOAD_DEFAULT) {
    return load_verified(path, reinterpret_cast<const uint8_t*>(key.data()), key.size(), flags);
  }

  /// load_bytes() after verifying the signature with `key`.
  static Model load_bytes_verified(const uint8_t* data, std::size_t len, const uint8_t* key,
                                   std::size_t key_len, uint32_t flags = TT_LOAD_DEFAULT) {
    detail::check_abi(tt_abi_version());
    tt_error e = detail::fresh_error();
    tt_model* m = nullptr;
    detail::check(tt_load_bytes_verified(len == 0 ? detail::nonnull_in(data) : data, len, key,
                                         key_len, flags, &m, &e),
                  e);
    return Model(m);
  }

  bool valid() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }
  /// The underlying C handle (still owned by this Model), for calls the wrapper lacks.
  const tt_model* get() const noexcept { return m_; }

  // ---- prediction: labels ------------------------------------------------------------------

  /// Labels (0 or 1) of n_rows rows: `out` must hold n_rows values. No allocation.
  void predict_into(const int8_t* x, std::size_t n_rows, std::size_t n_cols, int32_t* out,
                    std::size_t out_len) const {
    int32_t scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                             detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  void predict_into(const double* x, std::size_t n_rows, std::size_t n_cols, int32_t* out,
                    std::size_t out_len) const {
    int32_t scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_f64(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                 detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  std::vector<int32_t> predict(const int8_t* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict, x, n_rows, n_cols);
    std::vector<int32_t> out(n_rows);
    predict_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }
  std::vector<int32_t> predict(const double* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_f64, x, n_rows, n_cols);
    std::vector<int32_t> out(n_rows);
    predict_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }

  // ---- prediction: probabilities -----------------------------------------------------------

  /// Probabilities, row-major: out[2r] = P(class 0), out[2r+1] = P(class 1); `out` must hold
  /// 2 * n_rows values. No allocation.
  void predict_proba_into(const int8_t* x, std::size_t n_rows, std::size_t n_cols, double* out,
                          std::size_t out_len) const {
    double scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_proba(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                   detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  void predict_proba_into(const double* x, std::size_t n_rows, std::size_t n_cols, double* out,
                          std::size_t out_len) const {
    double scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_proba_f64(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                       detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  std::vector<double> predict_proba(const int8_t* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_proba, x, n_rows, n_cols);
    std::vector<double> out(proba_len(n_rows));
    predict_proba_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }
  std::vector<double> predict_proba(const double* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_proba_f64, x, n_rows, n_cols);
    std::vector<double> out(proba_len(n_rows));
    predict_proba_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }

  // ---- explanations (issue 15) --------------------------------------------------------------

  /// The reached leaf's node index per row (pre-order numbering: root 0, node, left subtree,
  /// right subtree); `out` must hold n_rows values. No allocation.
  void predict_leaf_into(const int8_t* x, std::size_t n_rows, std::size_t n_cols, int32_t* out,
                         std::size_t out_len) const {
    int32_t scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_leaf(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                  detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  void predict_leaf_into(const double* x, std::size_t n_rows, std::size_t n_cols, int32_t* out,
                         std::size_t out_len) const {
    int32_t scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_leaf_f64(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                      detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  std::vector<int32_t> predict_leaf(const int8_t* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_leaf, x, n_rows, n_cols);
    std::vector<int32_t> out(n_rows);
    predict_leaf_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }
  std::vector<int32_t> predict_leaf(const double* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_leaf_f64, x, n_rows, n_cols);
    std::vector<int32_t> out(n_rows);
    predict_leaf_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }

  /// Per-feature contributions to P(class 1), n_features() + 1 values per row (the last is the
  /// bias, P1 of the root); a row's values add up to its P(class 1). No allocation.
  void predict_contrib_into(const int8_t* x, std::size_t n_rows, std::size_t n_cols, double* out,
                            std::size_t out_len) const {
    double scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_contrib(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                     detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  void predict_contrib_into(const double* x, std::size_t n_rows, std::size_t n_cols, double* out,
                            std::size_t out_len) const {
    double scratch[1];
    tt_error e = detail::fresh_error();
    detail::check(tt_predict_contrib_f64(m_, in(x, n_rows, n_cols), n_rows, n_cols,
                                         detail::nonnull_out(out, out_len, scratch), out_len, &e),
                  e);
  }
  std::vector<double> predict_contrib(const int8_t* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_contrib, x, n_rows, n_cols);
    std::vector<double> out(contrib_len(n_rows));
    predict_contrib_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }
  std::vector<double> predict_contrib(const double* x, std::size_t n_rows, std::size_t n_cols) const {
    probe(tt_predict_contrib_f64, x, n_rows, n_cols);
    std::vector<double> out(contrib_len(n_rows));
    predict_contrib_into(x, n_rows, n_cols, out.data(), out.size());
    return out;
  }

  /// The node indices from the root to the reached leaf for one row of n_cols values.
  std::vector<int32_t> decision_path(const int8_t* row, std::size_t n_cols) const {
    return path_of(tt_decision_path, row, n_cols);
  }
  std::vector<int32_t> decision_path(const double* row, std::size_t n_cols) const {
    return path_of(tt_decision_path_f64, row, n_cols);
  }

  /// Node i's record; throws TT_ERR_NOT_FOUND if i >= n_nodes().
  tt_node node(std::size_t i) const {
    tt_node out{};
    tt_error e = detail::fresh_error();
    detail::check(tt_node_info(m_, i, &out, &e), e);
    return out;
  }

#ifdef TT_HAS_SPAN
  // ---- C++20 spans: n_rows = x.size() / n_features() ---------------------------------------
  std::vector<int32_t> predict(std::span<const int8_t> x) const {
    return predict(x.data(), rows_of(x.size()), n_features());
  }
  std::vector<int32_t> predict(std::span<const double> x) const {
    return predict(x.data(), rows_of(x.size()), n_features());
  }
  void predict_into(std::span<const int8_t> x, std::span<int32_t> out) const {
    predict_into(x.data(), rows_of(x.size()), n_features(), out.data(), out.size());
  }
  void predict_into(std::span<const double> x, std::span<int32_t> out) const {
    predict_into(x.data(), rows_of(x.size()), n_features(), out.data(), out.size());
  }
  std::vector<double> predict_proba(std::span<const int8_t> x) const {
    return predict_proba(x.data(), rows_of(x.size()), n_features());
  }
  std::vector<double> predict_proba(std::span<const double> x) const {
    return predict_proba(x.data(), rows_of(x.size()), n_features());
  }
  void predict_proba_into(std::span<const int8_t> x, std::span<double> out) const {
    predict_proba_into(x.data(), rows_of(x.size()), n_features(), out.data(), out.size());
  }
  void predict_proba_into(std::span<const double> x, std::span<double> out) const {
    predict_proba_into(x.data(), rows_of(x.size()), n_features(), out.data(), out.size());
  }
#endif

  // ---- metadata ------------------------------------------------------------------------------

  std::size_t n_features() const noexcept { return tt_n_features(m_); }
  std::size_t n_classes() const noexcept { return tt_n_classes(m_); }
  std::size_t n_nodes() const noexcept { return tt_n_nodes(m_); }
  std::size_t n_leaves() const noexcept { return tt_n_leaves(m_); }
  std::size_t max_depth() const noexcept { return tt_max_depth(m_); }

  /// Name of feature (input column) i; throws TT_ERR_NOT_FOUND if i >= n_features().
  std::string feature_name(std::size_t i) const {
    const char* s = nullptr;
    tt_error e = detail::fresh_error();
    detail::check(tt_feature_name(m_, i, &s, &e), e);
    return s;
  }
  /// Column of the feature called `name` (exact byte match), or nullopt if there is none.
  std::optional<std::size_t> feature_index(const std::string& name) const {
    if (!m_) detail::check(TT_ERR_NULL_ARG, null_model_error());
    if (name.find('\0') != std::string::npos) return std::nullopt;  // names never contain NUL
    std::size_t idx = 0;
    tt_error e = detail::fresh_error();
    int32_t rc = tt_feature_index(m_, name.c_str(), &idx, &e);
    if (rc == TT_ERR_NOT_FOUND) return std::nullopt;
    detail::check(rc, e);
    return idx;
  }
  /// Label of class i (0 = negative, 1 = positive); throws TT_ERR_NOT_FOUND if i >= 2.
  std::string class_label(std::size_t i) const {
    const char* s = nullptr;
    tt_error e = detail::fresh_error();
    detail::check(tt_class_label(m_, i, &s, &e), e);
    return s;
  }
  /// The user-supplied model version ("" if none); throws TT_ERR_NULL_ARG on an empty Model.
  std::string model_version() const {
    const char* s = tt_model_version(m_);
    if (!s) detail::check(TT_ERR_NULL_ARG, null_model_error());
    return s;
  }
  /// The model's metadata JSON object; throws TT_ERR_NULL_ARG on an empty Model.
  std::string metadata_json() const {
    const char* s = tt_metadata_json(m_);
    if (!s) detail::check(TT_ERR_NULL_ARG, null_model_error());
    return s;
  }
  /// CRC-32 stored in the model file (0 for an empty Model).
  uint32_t crc32() const noexcept { return tt_model_crc32(m_); }
  /// Whether the file carries a signature trailer (verified only by the *_verified loads).
  bool is_signed() const noexcept { return tt_model_is_signed(m_) == 1; }
  /// SHA-256 of the model bytes (without signature trailer): the model's identity.
  std::array<uint8_t, TT_DIGEST_LEN> digest() const {
    std::array<uint8_t, TT_DIGEST_LEN> d{};
    tt_error e = detail::fresh_error();
    detail::check(tt_model_digest(m_, d.data(), d.size(), &e), e);
    return d;
  }

 private:
  explicit Model(tt_model* m) noexcept : m_(m) {}

  static tt_error null_model_error() {
    tt_error e = detail::fresh_error();
    e.code = TT_ERR_NULL_ARG;
    const char msg[] = "the tt::Model is empty (moved from or default-constructed)";
    static_assert(sizeof msg <= sizeof e.message, "message fits");
    for (std::size_t i = 0; i < sizeof msg; i++) e.message[i] = msg[i];
    return e;
  }

  static std::size_t proba_len(std::size_t n_rows) {
    if (n_rows > SIZE_MAX / TT_N_CLASSES)
      throw Error(TT_ERR_SHAPE, "output size for " + std::to_string(n_rows) + " rows overflows");
    return n_rows * TT_N_CLASSES;
  }

  std::size_t contrib_len(std::size_t n_rows) const {
    std::size_t w = n_features() + 1;
    if (n_rows > SIZE_MAX / w)
      throw Error(TT_ERR_SHAPE, "output size for " + std::to_string(n_rows) + " rows overflows");
    return n_rows * w;
  }

  // A decision path: ask for its length (cap 0 -> TT_ERR_LENGTH and the length), then fill it.
  template <typename T>
  std::vector<int32_t> path_of(int32_t (*fn)(const tt_model*, const T*, std::size_t, int32_t*,
                                             std::size_t, std::size_t*, tt_error*),
                               const T* row, std::size_t n_cols) const {
    tt_error e = detail::fresh_error();
    std::size_t len = 0;
    int32_t rc = fn(m_, in(row, 1, n_cols), n_cols, nullptr, 0, &len, &e);
    if (rc != TT_ERR_LENGTH) {
      detail::check(rc, e);
      return {};
    }
    std::vector<int32_t> out(len);
    detail::check(fn(m_, in(row, 1, n_cols), n_cols, out.data(), out.size(), &len, &e), e);
    out.resize(len);
    return out;
  }

  // Before allocating a result vector, validate every argument but the output with a call that
  // has no room for output (out_len 0 writes nothing): any status other than TT_OK /
  // TT_ERR_LENGTH is the error the real call would report, thrown before a huge allocation.
  template <typename T, typename O>
  void probe(int32_t (*fn)(const tt_model*, const T*, std::size_t, std::size_t, O*, std::size_t,
                           tt_error*),
             const T* x, std::size_t n_rows, std::size_t n_cols) const {
    O scratch[1];
    tt_error e = detail::fresh_error();
    int32_t rc = fn(m_, in(x, n_rows, n_cols), n_rows, n_cols, scratch, 0, &e);
    if (rc != TT_OK && rc != TT_ERR_LENGTH) throw Error(rc, e);
  }

  template <typename T>
  static const T* in(const T* x, std::size_t n_rows, std::size_t n_cols) noexcept {
    return (x == nullptr && (n_rows == 0 || n_cols == 0)) ? detail::nonnull_in(x) : x;
  }

#ifdef TT_HAS_SPAN
  std::size_t rows_of(std::size_t n_values) const {
    std::size_t nf = n_features();
    if (nf == 0 || n_values % nf != 0)
      throw Error(TT_ERR_SHAPE, std::to_string(n_values) + " input values are not a whole number of " +
                                    std::to_string(nf) + "-feature rows");
    return n_values / nf;
  }
#endif

  tt_model* m_ = nullptr;
};

}  // namespace tt

#endif  // THETATREE_HPP
