/*
 * Explanations through the C ABI (issue 15), on every reference model, clean and missing
 * inputs: tt_predict_leaf[_f64|_bits|_csr] equal the golden leaf_preorder on every row;
 * tt_predict_contrib[_f64|_bits|_csr] add up to P(class 1) within 1e-12, agree with each other
 * and are non-zero only for features tested on the row's path; tt_decision_path[_f64] starts at
 * the root, follows tt_node_info's children and ends at the leaf. Then the argument errors:
 * NULLs, short buffers (the needed length), out-of-range nodes, invalid values.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "thetatree.h"

static size_t g_fail, g_checks;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  if (g_fail++ < 25) {
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
}

#define CHECK(cond, ...)      \
  do {                        \
    g_checks++;               \
    if (!(cond)) fail(__VA_ARGS__); \
  } while (0)

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

/* Bit-packed rows and missing mask, and CSR rows (clean inputs only), from int8 rows. */
static void pack(const int8_t *x, size_t n, size_t nf, uint64_t **bits, uint64_t **mask) {
  size_t wpr = (nf + 63) / 64;
  *bits = calloc(n * wpr + 1, 8);
  *mask = calloc(n * wpr + 1, 8);
  if (!*bits || !*mask) abort();
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < nf; j++) {
      int8_t v = x[r * nf + j];
      if (v == 1) (*bits)[r * wpr + j / 64] |= 1ull << (j % 64);
      if (v == -1) (*mask)[r * wpr + j / 64] |= 1ull << (j % 64);
    }
}

static void to_csr(const int8_t *x, size_t n, size_t nf, size_t **offs, uint32_t **idx, size_t *nnz) {
  *offs = xmalloc((n + 1) * sizeof(size_t));
  *idx = xmalloc((n * nf + 1) * sizeof(uint32_t));
  size_t k = 0;
  for (size_t r = 0; r < n; r++) {
    (*offs)[r] = k;
    for (size_t j = 0; j < nf; j++)
      if (x[r * nf + j] == 1) (*idx)[k++] = (uint32_t)j;
  }
  (*offs)[n] = k;
  *nnz = k;
}

static void check_model(const tt_model *m, const char *name, int missing, const ttt_input *in,
                        const ttt_golden *g) {
  size_t n = in->n_rows, nf = in->n_cols, w = nf + 1;
  tt_error e;
  int32_t rc;
  int32_t *leaf = xmalloc(n * sizeof(int32_t)), *leaf2 = xmalloc(n * sizeof(int32_t));
  double *c = xmalloc(n * w * sizeof(double)), *c2 = xmalloc(n * w * sizeof(double));
  double *p = xmalloc(2 * n * sizeof(double));
  uint64_t *bits, *mask;
  pack(in->x8, n, nf, &bits, &mask);

  rc = tt_predict_proba(m, in->x8, n, nf, p, 2 * n, &e);
  CHECK(rc == TT_OK, "%s: tt_predict_proba: %s", name, e.message);
  for (size_t r = 0; r < n; r++) leaf[r] = -7;
  rc = tt_predict_leaf(m, in->x8, n, nf, leaf, n, &e);
  CHECK(rc == TT_OK, "%s: tt_predict_leaf: %s", name, e.message);
  for (size_t r = 0; r < n; r++)
    CHECK(leaf[r] == g->leaf_preorder[r], "%s missing=%d row %zu: leaf %d, golden %lld", name,
          missing, r, leaf[r], (long long)g->leaf_preorder[r]);
  rc = tt_predict_leaf_f64(m, in->x64, n, nf, leaf2, n, &e);
  CHECK(rc == TT_OK && !memcmp(leaf, leaf2, n * sizeof(int32_t)), "%s: tt_predict_leaf_f64", name);
  memset(leaf2, 0xff, n * sizeof(int32_t));
  rc = tt_predict_leaf_bits(m, bits, mask, n, nf, leaf2, n, &e);
  CHECK(rc == TT_OK && !memcmp(leaf, leaf2, n * sizeof(int32_t)), "%s: tt_predict_leaf_bits", name);

  rc = tt_predict_contrib(m, in->x8, n, nf, c, n * w, &e);
  CHECK(rc == TT_OK, "%s: tt_predict_contrib: %s", name, e.message);
  rc = tt_predict_contrib_f64(m, in->x64, n, nf, c2, n * w, &e);
  CHECK(rc == TT_OK && !memcmp(c, c2, n * w * sizeof(double)), "%s: tt_predict_contrib_f64", name);
  memset(c2, 0, n * w * sizeof(double));
  rc = tt_predict_contrib_bits(m, bits, mask, n, nf, c2, n * w, &e);
  CHECK(rc == TT_OK && !memcmp(c, c2, n * w * sizeof(double)), "%s: tt_predict_contrib_bits", name);
  if (!missing) {
    size_t *offs, nnz;
    uint32_t *idx;
    to_csr(in->x8, n, nf, &offs, &idx, &nnz);
    memset(leaf2, 0xff, n * sizeof(int32_t));
    rc = tt_predict_leaf_csr(m, offs, idx, nnz, n, nf, leaf2, n, &e);
    CHECK(rc == TT_OK && !memcmp(leaf, leaf2, n * sizeof(int32_t)), "%s: tt_predict_leaf_csr", name);
    memset(c2, 0, n * w * sizeof(double));
    rc = tt_predict_contrib_csr(m, offs, idx, nnz, n, nf, c2, n * w, &e);
    CHECK(rc == TT_OK && !memcmp(c, c2, n * w * sizeof(double)), "%s: tt_predict_contrib_csr", name);
    free(offs);
    free(idx);
  }

  tt_node root;
  CHECK(tt_node_info(m, 0, &root, NULL) == TT_OK, "%s: tt_node_info(0)", name);
  size_t cap = tt_max_depth(m) + 1;
  int32_t *path = xmalloc(cap * sizeof(int32_t)), *path2 = xmalloc(cap * sizeof(int32_t));
  unsigned char *on_path = xmalloc(nf);
  for (size_t r = 0; r < n; r++) {
    const double *cr = c + r * w;
    double sum = 0;
    for (size_t j = 0; j < w; j++) sum += cr[j];
    CHECK(fabs(sum - p[2 * r + 1]) <= 1e-12, "%s row %zu: contributions sum to %.17g, P1 %.17g",
          name, r, sum, p[2 * r + 1]);
    CHECK(ttt_same_double(cr[nf], root.probabilities[1]), "%s row %zu: bias", name, r);
    size_t len = 0;
    rc = tt_decision_path(m, in->x8 + r * nf, nf, path, cap, &len, &e);
    CHECK(rc == TT_OK && len >= 1 && path[0] == 0 && path[len - 1] == leaf[r],
          "%s row %zu: path (rc %d, len %zu) does not run from 0 to leaf %d", name, r, rc, len, leaf[r]);
    size_t len2 = 0;
    rc = tt_decision_path_f64(m, in->x64 + r * nf, nf, path2, cap, &len2, &e);
    CHECK(rc == TT_OK && len2 == len && !memcmp(path, path2, len * sizeof(int32_t)),
          "%s row %zu: tt_decision_path_f64 differs", name, r);
    memset(on_path, 0, nf);
    for (size_t k = 0; k + 1 < len && k + 1 < cap; k++) {
      tt_node nd;
      if (tt_node_info(m, (size_t)path[k], &nd, &e) != TT_OK || nd.is_leaf) {
        fail("%s row %zu: path node %d is not a split", name, r, path[k]);
        break;
      }
      int8_t v = in->x8[r * nf + (size_t)nd.feature];
      int right = v == 1 || (v == -1 && nd.missing_right);
      CHECK(path[k + 1] == (right ? nd.right : nd.left), "%s row %zu: step %zu does not follow the node's child", name, r, k);
      on_path[nd.feature] = 1;
    }
    for (size_t j = 0; j < nf; j++)
      CHECK(cr[j] == 0.0 || on_path[j], "%s row %zu: feature %zu has contribution %g off the path", name, r, j, cr[j]);
  }
  free(on_path);
  free(path);
  free(path2);
  free(bits);
  free(mask);
  free(leaf);
  free(leaf2);
  free(c);
  free(c2);
  free(p);
}

/* Hostile arguments on one model. */
static void check_errors(const tt_model *m, const ttt_input *in) {
  size_t nf = in->n_cols, w = nf + 1;
  int32_t leaf[2] = {-5, -5};
  size_t cap = tt_max_depth(m) + 1;
  int32_t *nodes = xmalloc(cap * sizeof(int32_t));
  for (size_t k = 0; k < cap; k++) nodes[k] = -5;
  double c[64];
  tt_error e;
  size_t len = 12345;
  CHECK(tt_predict_leaf(NULL, in->x8, 1, nf, leaf, 1, &e) == TT_ERR_NULL_ARG, "leaf NULL model");
  CHECK(tt_predict_leaf(m, NULL, 1, nf, leaf, 1, NULL) == TT_ERR_NULL_ARG, "leaf NULL x");
  CHECK(tt_predict_leaf(m, in->x8, 1, nf, NULL, 1, &e) == TT_ERR_NULL_ARG, "leaf NULL out");
  CHECK(tt_predict_leaf(m, in->x8, 2, nf, leaf, 1, &e) == TT_ERR_LENGTH && leaf[0] == -5, "leaf short out");
  CHECK(tt_predict_leaf(m, in->x8, 1, nf + 1, leaf, 1, &e) == TT_ERR_SHAPE, "leaf wrong n_cols");
  if (w <= 64) {
    CHECK(tt_predict_contrib(m, in->x8, 1, nf, c, w - 1, &e) == TT_ERR_LENGTH, "contrib short out");
    CHECK(tt_predict_contrib_f64(m, in->x64, 1, nf, NULL, w, &e) == TT_ERR_NULL_ARG, "contrib NULL out");
  }
  /* Decision path: the size query, a short cap, NULLs. */
  CHECK(tt_decision_path(m, in->x8, nf, NULL, 0, &len, &e) == TT_ERR_LENGTH && len >= 1 && len <= cap,
        "path size query: len %zu", len);
  size_t need = len;
  if (need >= 2) {
    len = 0;
    CHECK(tt_decision_path(m, in->x8, nf, nodes, need - 1, &len, &e) == TT_ERR_LENGTH &&
              len == need && nodes[0] == -5,
          "path short cap: len %zu, need %zu", len, need);
  }
  CHECK(tt_decision_path(m, in->x8, nf, nodes, cap, NULL, &e) == TT_ERR_NULL_ARG, "path NULL out_len");
  CHECK(tt_decision_path(m, in->x8, nf, NULL, cap, &len, &e) == TT_ERR_NULL_ARG, "path NULL out_nodes");
  CHECK(tt_decision_path(m, NULL, nf, nodes, cap, &len, &e) == TT_ERR_NULL_ARG, "path NULL row");
  CHECK(tt_decision_path(m, in->x8, nf - 1, nodes, cap, &len, &e) == TT_ERR_SHAPE, "path wrong n_cols");
  /* An invalid value where the walk reads it: row 0, the root's feature. */
  tt_node root;
  if (tt_node_info(m, 0, &root, &e) == TT_OK && !root.is_leaf) {
    int8_t *bad = xmalloc(nf);
    memcpy(bad, in->x8, nf);
    bad[root.feature] = 9;
    e.row = e.column = -2;
    CHECK(tt_decision_path(m, bad, nf, nodes, cap, &len, &e) == TT_ERR_INPUT_VALUE && e.row == 0 &&
              e.column == root.feature,
          "path invalid value: row %lld column %lld", (long long)e.row, (long long)e.column);
    e.row = e.column = -2;
    CHECK(tt_predict_leaf(m, bad, 1, nf, leaf, 1, &e) == TT_ERR_INPUT_VALUE && e.column == root.feature,
          "leaf invalid value");
    free(bad);
  }
  /* Node records: out of range, NULLs. */
  size_t n_nodes = tt_n_nodes(m);
  tt_node nd;
  memset(&nd, 0x5a, sizeof nd);
  CHECK(tt_node_info(m, n_nodes, &nd, &e) == TT_ERR_NOT_FOUND && strstr(e.message, "n_nodes") &&
            ((unsigned char *)&nd)[0] == 0x5a,
        "node out of range: %s", e.message);
  CHECK(tt_node_info(m, (size_t)-1, &nd, NULL) == TT_ERR_NOT_FOUND, "node SIZE_MAX");
  CHECK(tt_node_info(m, 0, NULL, &e) == TT_ERR_NULL_ARG, "node NULL out");
  CHECK(tt_node_info(NULL, 0, &nd, &e) == TT_ERR_NULL_ARG, "node NULL model");
  free(nodes);
}

int main(void) {
  ttt_manifest man;
  if (ttt_manifest_load(&man)) return 2;
  size_t rows = 0;
  for (size_t i = 0; i < man.n; i++) {
    const ttt_ref_model *rm = &man.models[i];
    char *path = ttt_model_path(rm->name);
    tt_model *m = NULL;
    tt_error e;
    if (tt_load(path, TT_LOAD_DEFAULT, &m, &e) != TT_OK) {
      fail("%s: %s", path, e.message);
      free(path);
      continue;
    }
    for (int missing = 0; missing <= 1; missing++) {
      ttt_input in;
      ttt_golden g;
      if (ttt_input_load(rm->dataset, missing, &in)) {
        fail("%s: no input", rm->name);
        continue;
      }
      if (ttt_golden_load(rm->name, missing, &g)) {
        fail("%s: no golden", rm->name);
        ttt_input_free(&in);
        continue;
      }
      if (g.n_rows != in.n_rows || in.n_cols != tt_n_features(m)) {
        fail("%s: golden/input shape", rm->name);
      } else {
        check_model(m, rm->name, missing, &in, &g);
        if (!missing) check_errors(m, &in);
        rows += g.n_rows;
      }
      ttt_golden_free(&g);
      ttt_input_free(&in);
    }
    tt_free(m);
    free(path);
  }
  printf("explain: %zu models, %zu golden rows, %zu checks, %zu failures\n", man.n, rows, g_checks, g_fail);
  ttt_manifest_free(&man);
  return g_fail == 0 && rows > 0 ? 0 : 1;
}
