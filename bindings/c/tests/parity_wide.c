/*
 * Parity and argument errors of the bit-packed and CSR entry points (tt_predict_bits,
 * tt_predict_proba_bits, tt_predict_csr, tt_predict_proba_csr) and tt_model_kernel.
 *
 * Every reference model reproduces the golden outputs bit for bit:
 *  - bits, clean input, missing = NULL and missing = an all-zero mask;
 *  - bits, missing-value input, with the value bit of every missing cell SET (it must be
 *    ignored) and junk in the padding bits past n_cols of each row's last word (ignored too);
 *  - CSR, clean input (CSR has no missing values), with row_offsets[0] != 0;
 * in one batch and in odd-sized chunks (1..37 rows, across the 16-row kernel blocks). Rows whose
 * golden probabilities are empty must equal tt_predict_proba's derived values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "thetatree.h"

static size_t g_checks, g_failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    g_checks++;                                                                \
    if (!(cond)) {                                                             \
      if (g_failures++ < 25) {                                                 \
        fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
      }                                                                        \
    }                                                                          \
  } while (0)

#define CALL_OK(call)                                                                  \
  do {                                                                                 \
    tt_error e_;                                                                       \
    int32_t rc_ = (call);                                                              \
    CHECK(rc_ == TT_OK, "%s: %s: %s", #call, tt_status_str(rc_), rc_ ? e_.message : ""); \
  } while (0)

/* Pack rows into ceil(nf/64) words per row. value_of_missing: the bit written for a missing
 * cell; junk: set every padding bit past nf. Fills `mask` (if not NULL) with missing cells. */
static void pack_bits(const ttt_input *in, uint64_t *x, uint64_t *mask, int value_of_missing, int junk) {
  size_t nf = in->n_cols, wpr = (nf + 63) / 64;
  memset(x, 0, in->n_rows * wpr * sizeof *x);
  if (mask) memset(mask, 0, in->n_rows * wpr * sizeof *mask);
  for (size_t r = 0; r < in->n_rows; r++) {
    uint64_t *row = x + r * wpr, *mrow = mask ? mask + r * wpr : NULL;
    for (size_t j = 0; j < nf; j++) {
      int8_t v = in->x8[r * nf + j];
      int bit = v == 1 || (v == -1 && value_of_missing);
      if (bit) row[j / 64] |= (uint64_t)1 << (j % 64);
      if (v == -1 && mrow) mrow[j / 64] |= (uint64_t)1 << (j % 64);
    }
    if (junk && nf % 64) row[wpr - 1] |= ~(uint64_t)0 << (nf % 64);
  }
}

/* CSR of a clean input, with `base` junk entries before the first row. */
static size_t build_csr(const ttt_input *in, size_t base, size_t *offsets, uint32_t *indices) {
  size_t k = 0;
  for (; k < base; k++) indices[k] = 0xFFFFFFFFu;
  for (size_t r = 0; r < in->n_rows; r++) {
    offsets[r] = k;
    for (size_t j = 0; j < in->n_cols; j++)
      if (in->x8[r * in->n_cols + j] == 1) indices[k++] = (uint32_t)j;
  }
  offsets[in->n_rows] = k;
  return k;
}

static void compare(const char *what, const ttt_golden *g, const int32_t *labels, const double *proba,
                    const double *derived) {
  size_t bad = 0;
  for (size_t r = 0; r < g->n_rows; r++) {
    g_checks += 2;
    int ok = labels[r] == g->pred[r];
    if (g->has_proba[r])
      ok &= ttt_same_double(proba[2 * r], g->p0[r]) && ttt_same_double(proba[2 * r + 1], g->p1[r]);
    else
      ok &= memcmp(proba + 2 * r, derived + 2 * r, 2 * sizeof(double)) == 0;
    if (!ok && bad++ < 5)
      fprintf(stderr, "MISMATCH %s row %zu (id %lld): label %d p (%a, %a), golden %d\n", what, r,
              (long long)g->row_ids[r], labels[r], proba[2 * r], proba[2 * r + 1], g->pred[r]);
  }
  g_failures += bad;
}

typedef struct run {
  const uint64_t *x, *mask; /* bits */
  const size_t *off;        /* csr */
  const uint32_t *idx;
  size_t n_idx;
} run;

/* Predict rows [r0, r0+n) with bits (csr == 0) or CSR into labels+r0 / proba+2*r0. */
static int32_t predict_range(const tt_model *m, const run *u, int csr, size_t nf, size_t r0, size_t n,
                             int32_t *labels, double *proba, tt_error *e) {
  size_t wpr = (nf + 63) / 64;
  int32_t rc;
  if (!csr) {
    rc = tt_predict_bits(m, u->x + r0 * wpr, u->mask ? u->mask + r0 * wpr : NULL, n, nf, labels + r0, n, e);
    if (rc == TT_OK)
      rc = tt_predict_proba_bits(m, u->x + r0 * wpr, u->mask ? u->mask + r0 * wpr : NULL, n, nf,
                                 proba + 2 * r0, 2 * n, e);
  } else {
    rc = tt_predict_csr(m, u->off + r0, u->idx, u->n_idx, n, nf, labels + r0, n, e);
    if (rc == TT_OK) rc = tt_predict_proba_csr(m, u->off + r0, u->idx, u->n_idx, n, nf, proba + 2 * r0, 2 * n, e);
  }
  return rc;
}

static void check_run(const char *what, const tt_model *m, const run *u, int csr, const ttt_input *in,
                      const ttt_golden *g, const double *derived) {
  size_t n = in->n_rows, nf = in->n_cols;
  int32_t *labels = malloc(n * sizeof *labels);
  double *proba = malloc(2 * n * sizeof *proba);
  if (!labels || !proba) abort();
  for (int chunked = 0; chunked <= 1; chunked++) {
    for (size_t i = 0; i < n; i++) labels[i] = -7;
    for (size_t i = 0; i < 2 * n; i++) proba[i] = -42.0;
    tt_error e;
    int32_t rc = TT_OK;
    for (size_t r0 = 0, step = 1; r0 < n && rc == TT_OK; r0 += step, step = step % 37 + 1) {
      size_t len = chunked ? (step < n - r0 ? step : n - r0) : n;
      rc = predict_range(m, u, csr, nf, r0, len, labels, proba, &e);
      if (!chunked) break;
    }
    CHECK(rc == TT_OK, "%s%s: %s: %s", what, chunked ? " (chunked)" : "", tt_status_str(rc), rc ? e.message : "");
    char label[512];
    snprintf(label, sizeof label, "%s%s", what, chunked ? " (chunked)" : "");
    if (rc == TT_OK) compare(label, g, labels, proba, derived);
  }
  free(labels);
  free(proba);
}

/* Argument errors: nothing is written, err carries the code and, for CSR, row/column. */
static void expect(const char *what, int32_t rc, const tt_error *e, int32_t want, int64_t row, int64_t col) {
  CHECK(rc == want && e->code == want && e->row == row && e->column == col,
        "%s: returned %s, err code %d row %lld column %lld (%s); expected %s row %lld column %lld", what,
        tt_status_str(rc), e->code, (long long)e->row, (long long)e->column, e->message,
        tt_status_str(want), (long long)row, (long long)col);
}

static void test_errors(const tt_model *m, const ttt_input *in) {
  enum { N = 4 };
  const size_t nf = in->n_cols, wpr = (nf + 63) / 64;
  uint64_t *x = calloc(N * wpr + 1, sizeof *x);
  int32_t out[N];
  double pout[2 * N];
  tt_error e;
  if (!x) abort();
  for (size_t i = 0; i < N; i++) out[i] = -7;
  /* bits */
  expect("bits: NULL x", tt_predict_bits(m, NULL, NULL, N, nf, out, N, &e), &e, TT_ERR_NULL_ARG, -1, -1);
  expect("bits: NULL out", tt_predict_bits(m, x, NULL, N, nf, NULL, N, &e), &e, TT_ERR_NULL_ARG, -1, -1);
  expect("bits: NULL model", tt_predict_bits(NULL, x, NULL, N, nf, out, N, &e), &e, TT_ERR_NULL_ARG, -1, -1);
  expect("bits: n_cols", tt_predict_bits(m, x, NULL, N, nf + 1, out, N, &e), &e, TT_ERR_SHAPE, -1, -1);
  expect("bits: overflow", tt_predict_bits(m, x, NULL, SIZE_MAX, nf, out, N, &e), &e, TT_ERR_SHAPE, -1, -1);
  expect("bits: out_len", tt_predict_bits(m, x, NULL, N, nf, out, N - 1, &e), &e, TT_ERR_LENGTH, -1, -1);
  expect("bits: misaligned x",
         tt_predict_bits(m, (const uint64_t *)(const void *)((const char *)x + 4), NULL, N, nf, out, N, &e), &e,
         TT_ERR_ALIGNMENT, -1, -1);
  expect("bits: misaligned mask",
         tt_predict_bits(m, x, (const uint64_t *)(const void *)((const char *)x + 1), N, nf, out, N, &e), &e,
         TT_ERR_ALIGNMENT, -1, -1);
  expect("bits proba: misaligned out",
         tt_predict_proba_bits(m, x, NULL, N, nf, (double *)(void *)((char *)pout + 4), 2 * N - 1, &e), &e,
         TT_ERR_ALIGNMENT, -1, -1);
  expect("bits proba: out_len", tt_predict_proba_bits(m, x, NULL, N, nf, pout, 2 * N - 1, &e), &e, TT_ERR_LENGTH,
         -1, -1);
  /* CSR: rows 0..3; row 2 is the broken one */
  size_t off[N + 1] = {0, 1, 2, 4, 5};
  uint32_t idx[8] = {0, 1, 3, 2, 0, 0, 0, 0}; /* row 2 = {3, 2}: unsorted */
  expect("csr: unsorted", tt_predict_csr(m, off, idx, 5, N, nf, out, N, &e), &e, TT_ERR_SHAPE, 2, 2);
  idx[2] = 2;                                    /* row 2 = {2, 2}: duplicate */
  expect("csr: duplicate", tt_predict_csr(m, off, idx, 5, N, nf, out, N, &e), &e, TT_ERR_SHAPE, 2, 2);
  idx[2] = 1;
  idx[3] = (uint32_t)nf;                         /* row 2 = {1, nf}: out of range */
  expect("csr: out of range", tt_predict_proba_csr(m, off, idx, 5, N, nf, pout, 2 * N, &e), &e, TT_ERR_SHAPE, 2,
         (int64_t)nf);
  idx[3] = 2;
  size_t dec[N + 1] = {0, 2, 1, 4, 5};           /* offsets decrease after row 1 */
  expect("csr: decreasing offsets", tt_predict_csr(m, dec, idx, 5, N, nf, out, N, &e), &e, TT_ERR_SHAPE, 1, -1);
  expect("csr: offsets past n_indices", tt_predict_csr(m, off, idx, 4, N, nf, out, N, &e), &e, TT_ERR_LENGTH, -1, -1);
  expect("csr: NULL indices", tt_predict_csr(m, off, NULL, 0, N, nf, out, N, &e), &e, TT_ERR_NULL_ARG, -1, -1);
  expect("csr: NULL offsets", tt_predict_csr(m, NULL, idx, 5, N, nf, out, N, &e), &e, TT_ERR_NULL_ARG, -1, -1);
  expect("csr: n_cols", tt_predict_csr(m, off, idx, 5, N, nf - 1, out, N, &e), &e, TT_ERR_SHAPE, -1, -1);
  expect("csr: out_len", tt_predict_csr(m, off, idx, 5, N, nf, out, N - 1, &e), &e, TT_ERR_LENGTH, -1, -1);
  for (size_t i = 0; i < N; i++) CHECK(out[i] == -7, "a failing bits/CSR call wrote out[%zu]", i);
  /* A valid CSR call on the same structure now succeeds. */
  CALL_OK(tt_predict_csr(m, off, idx, 5, N, nf, out, N, &e_));
  free(x);
}

int main(void) {
  ttt_manifest man;
  if (ttt_manifest_load(&man)) return 2;
  size_t rows = 0;
  for (size_t i = 0; i < man.n; i++) {
    const ttt_ref_model *rm = &man.models[i];
    char *path = ttt_model_path(rm->name);
    size_t len;
    unsigned char *file = ttt_read_file(path, &len), *odd = malloc(len + 1);
    if (!file || !odd) return 2;
    memcpy(odd + 1, file, len);
    tt_model *models[2] = {NULL, NULL};
    CALL_OK(tt_load(path, TT_LOAD_DEFAULT, &models[0], &e_));
    CALL_OK(tt_load_bytes(odd + 1, len, TT_LOAD_BORROW, &models[1], &e_));
    if (!models[0] || !models[1]) return 1;
    const char *kernel = tt_model_kernel(models[0]);
    CHECK(kernel && (strcmp(kernel, "branch-free") == 0 || strcmp(kernel, "branchy") == 0), "%s: kernel '%s'",
          rm->name, kernel ? kernel : "(null)");
    CHECK(tt_model_kernel(NULL) == NULL, "tt_model_kernel(NULL)");
    printf("  %-32s kernel %s\n", rm->name, kernel ? kernel : "?");
    for (int missing = 0; missing <= 1; missing++) {
      ttt_input in;
      ttt_golden g;
      if (ttt_input_load(rm->dataset, missing, &in) || ttt_golden_load(rm->name, missing, &g)) return 2;
      size_t n = in.n_rows, nf = in.n_cols, wpr = (nf + 63) / 64;
      rows += n;
      /* Derived probabilities (rows without golden ones) from the dense entry point. */
      double *derived = malloc(2 * n * sizeof *derived);
      if (!derived) abort();
      CALL_OK(tt_predict_proba(models[0], in.x8, n, nf, derived, 2 * n, &e_));
      uint64_t *x = malloc(n * wpr * sizeof *x), *mask = malloc(n * wpr * sizeof *mask);
      size_t *off = malloc((n + 1) * sizeof *off);
      uint32_t *idx = malloc((n * nf + 3) * sizeof *idx);
      if (!x || !mask || !off || !idx) abort();
      for (int k = 0; k < 2; k++) {
        char what[256];
        const char *mode = k ? "borrow+1" : "mmap";
        if (!missing) {
          pack_bits(&in, x, mask, 0, 1); /* mask: all zero */
          run a = {x, NULL, NULL, NULL, 0}, b = {x, mask, NULL, NULL, 0};
          snprintf(what, sizeof what, "%s X %s bits(missing=NULL)", rm->name, mode);
          check_run(what, models[k], &a, 0, &in, &g, derived);
          snprintf(what, sizeof what, "%s X %s bits(zero mask)", rm->name, mode);
          check_run(what, models[k], &b, 0, &in, &g, derived);
          size_t n_idx = build_csr(&in, 3, off, idx);
          run c = {NULL, NULL, off, idx, n_idx};
          snprintf(what, sizeof what, "%s X %s csr", rm->name, mode);
          check_run(what, models[k], &c, 1, &in, &g, derived);
        } else {
          pack_bits(&in, x, mask, 1, 1); /* missing cells' value bits set: must be ignored */
          run a = {x, mask, NULL, NULL, 0};
          snprintf(what, sizeof what, "%s X_missing %s bits(mask)", rm->name, mode);
          check_run(what, models[k], &a, 0, &in, &g, derived);
        }
      }
      if (i == 0 && !missing) test_errors(models[0], &in);
      free(x);
      free(mask);
      free(off);
      free(idx);
      free(derived);
      ttt_input_free(&in);
      ttt_golden_free(&g);
    }
    tt_free(models[0]);
    tt_free(models[1]);
    free(odd);
    free(file);
    free(path);
  }
  printf("parity_wide (bits, csr): %zu models, %zu rows, %zu checks, %zu failures\n", man.n, rows, g_checks,
         g_failures);
  ttt_manifest_free(&man);
  return g_failures == 0 && rows > 0 ? 0 : 1;
}
