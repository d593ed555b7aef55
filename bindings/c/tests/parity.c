/*
 * Parity with the Python reference through the C ABI: every reference model, loaded in every
 * way the ABI offers, reproduces every golden label and probability bit for bit, on the clean
 * and the missing-value inputs, through all four predict entry points (batch and row by row).
 *
 * Expected values come only from the golden files. Rows whose golden p0/p1 are empty (the
 * pruned leaf of mushroom_gini_pruned_lgk12, whose probabilities the reference never had) are
 * checked on the label, and the library's derived probabilities must be valid and identical
 * across entry points and load modes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "thetatree.h"

#ifndef TT_PARITY_VARIANT
#define TT_PARITY_VARIANT "cdylib"
#endif

static size_t g_mismatches, g_errors, g_checks;

#define MAX_REPORTS 25
static void mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mismatch(const char *fmt, ...) {
  if (g_mismatches++ < MAX_REPORTS) {
    va_list ap;
    va_start(ap, fmt);
    fputs("MISMATCH ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
}

static void error2(const char *what, const char *call, int32_t rc, const tt_error *e) {
  g_errors++;
  fprintf(stderr, "ERROR %s %s: %s (%d): %s\n", what, call, tt_status_str(rc), rc,
          e ? e->message : "");
}
static void error(const char *what, int32_t rc, const tt_error *e) { error2(what, "", rc, e); }

enum { MODE_LOAD, MODE_LOAD_COPY, MODE_BYTES, MODE_BYTES_COPY, MODE_BORROW, MODE_BORROW_ODD, N_MODES };
static const char *const MODE_NAMES[N_MODES] = {
    "tt_load(DEFAULT=mmap)", "tt_load(COPY)",          "tt_load_bytes(DEFAULT=copy)",
    "tt_load_bytes(COPY)",   "tt_load_bytes(BORROW)", "tt_load_bytes(BORROW, odd address)"};

/* Load `path` in `mode`. For borrowing modes, *keep receives the buffer that must outlive the
 * model; copying modes scribble over their source buffer after the load to prove the copy. */
static tt_model *load(int mode, const char *path, const unsigned char *file, size_t len,
                      unsigned char **keep) {
  tt_model *m = NULL;
  tt_error e;
  int32_t rc;
  *keep = NULL;
  switch (mode) {
    case MODE_LOAD:
      rc = tt_load(path, TT_LOAD_DEFAULT, &m, &e);
      break;
    case MODE_LOAD_COPY:
      rc = tt_load(path, TT_LOAD_COPY, &m, &e);
      break;
    case MODE_BYTES:
    case MODE_BYTES_COPY: {
      unsigned char *tmp = malloc(len);
      if (!tmp) abort();
      memcpy(tmp, file, len);
      rc = tt_load_bytes(tmp, len, mode == MODE_BYTES ? TT_LOAD_DEFAULT : TT_LOAD_COPY, &m, &e);
      memset(tmp, 0xA5, len);
      free(tmp);
      break;
    }
    case MODE_BORROW:
    case MODE_BORROW_ODD: {
      size_t off = mode == MODE_BORROW_ODD ? 1 : 0;
      unsigned char *buf = malloc(len + off);
      if (!buf) abort();
      memcpy(buf + off, file, len);
      rc = tt_load_bytes(buf + off, len, TT_LOAD_BORROW, &m, &e);
      *keep = buf;
      break;
    }
    default:
      abort();
  }
  if (rc != TT_OK || m == NULL) {
    char what[512];
    snprintf(what, sizeof what, "%s %s", MODE_NAMES[mode], path);
    error(what, rc, &e);
    free(*keep);
    *keep = NULL;
    return NULL;
  }
  return m;
}

/* The outputs of one (model, input) through the four entry points. */
typedef struct outputs {
  int32_t *l8, *l64;
  double *p8, *p64;
} outputs;

static void outputs_alloc(outputs *o, size_t n) {
  o->l8 = malloc(n * sizeof(int32_t));
  o->l64 = malloc(n * sizeof(int32_t));
  o->p8 = malloc(2 * n * sizeof(double));
  o->p64 = malloc(2 * n * sizeof(double));
  if (!o->l8 || !o->l64 || !o->p8 || !o->p64) abort();
  /* Sentinels: an unwritten output can never pass a golden comparison. */
  for (size_t i = 0; i < n; i++) o->l8[i] = o->l64[i] = -7;
  for (size_t i = 0; i < 2 * n; i++) o->p8[i] = o->p64[i] = -42.0;
}

static void outputs_free(outputs *o) {
  free(o->l8);
  free(o->l64);
  free(o->p8);
  free(o->p64);
}

static int predict_all(const tt_model *m, const ttt_input *in, outputs *o, const char *what) {
  size_t n = in->n_rows, nc = in->n_cols;
  tt_error e;
  int32_t rc;
  if ((rc = tt_predict(m, in->x8, n, nc, o->l8, n, &e)) != TT_OK) {
    error2(what, "tt_predict", rc, &e);
    return -1;
  }
  if ((rc = tt_predict_proba(m, in->x8, n, nc, o->p8, 2 * n, &e)) != TT_OK) {
    error2(what, "tt_predict_proba", rc, &e);
    return -1;
  }
  if ((rc = tt_predict_f64(m, in->x64, n, nc, o->l64, n, &e)) != TT_OK) {
    error2(what, "tt_predict_f64", rc, &e);
    return -1;
  }
  if ((rc = tt_predict_proba_f64(m, in->x64, n, nc, o->p64, 2 * n, &e)) != TT_OK) {
    error2(what, "tt_predict_proba_f64", rc, &e);
    return -1;
  }
  return 0;
}

static void check_label(const char *what, const char *entry, size_t r, const ttt_golden *g,
                        int32_t got) {
  g_checks++;
  if (got != g->pred[r])
    mismatch("%s %s row %zu (id %lld, leaf %lld): label %d, golden %d", what, entry, r,
             (long long)g->row_ids[r], (long long)g->leaf_preorder[r], got, g->pred[r]);
}

static void check_proba(const char *what, const char *entry, size_t r, const ttt_golden *g,
                        const double *p, const double *derived_ref) {
  g_checks++;
  if (g->has_proba[r]) {
    if (!ttt_same_double(p[0], g->p0[r]) || !ttt_same_double(p[1], g->p1[r]))
      mismatch("%s %s row %zu (id %lld, leaf %lld): p = (%a, %a) = (%.17g, %.17g), golden (%a, %a)",
               what, entry, r, (long long)g->row_ids[r], (long long)g->leaf_preorder[r], p[0],
               p[1], p[0], p[1], g->p0[r], g->p1[r]);
    return;
  }
  /* No golden probabilities: the library derives them. They must be valid probabilities and
   * identical (bitwise) wherever this row is predicted. */
  if (!(isfinite(p[0]) && isfinite(p[1]) && p[0] >= 0 && p[0] <= 1 && p[1] >= 0 && p[1] <= 1 &&
        fabs(p[0] + p[1] - 1.0) <= 1e-12))
    mismatch("%s %s row %zu (id %lld): derived probabilities (%.17g, %.17g) are not valid", what,
             entry, r, (long long)g->row_ids[r], p[0], p[1]);
  if (derived_ref && (!ttt_same_double(p[0], derived_ref[0]) || !ttt_same_double(p[1], derived_ref[1])))
    mismatch("%s %s row %zu (id %lld): derived probabilities (%a, %a) differ from the first "
             "load mode's int8 result (%a, %a)",
             what, entry, r, (long long)g->row_ids[r], p[0], p[1], derived_ref[0], derived_ref[1]);
}

static void compare(const char *what, const ttt_golden *g, const outputs *o, const double *derived) {
  for (size_t r = 0; r < g->n_rows; r++) {
    check_label(what, "tt_predict", r, g, o->l8[r]);
    check_label(what, "tt_predict_f64", r, g, o->l64[r]);
    check_proba(what, "tt_predict_proba", r, g, o->p8 + 2 * r, derived ? derived + 2 * r : NULL);
    check_proba(what, "tt_predict_proba_f64", r, g, o->p64 + 2 * r, derived ? derived + 2 * r : o->p8 + 2 * r);
  }
}

/* One row at a time (n_rows = 1, out_len exact): must equal the batch results. */
static void row_by_row(const tt_model *m, const ttt_input *in, const outputs *batch,
                       const char *what) {
  size_t nc = in->n_cols;
  for (size_t r = 0; r < in->n_rows; r++) {
    int32_t l8 = -7, l64 = -7;
    double p8[2] = {-42, -42}, p64[2] = {-42, -42};
    tt_error e;
    int32_t rc;
    if ((rc = tt_predict(m, in->x8 + r * nc, 1, nc, &l8, 1, &e)) != TT_OK ||
        (rc = tt_predict_f64(m, in->x64 + r * nc, 1, nc, &l64, 1, &e)) != TT_OK ||
        (rc = tt_predict_proba(m, in->x8 + r * nc, 1, nc, p8, 2, &e)) != TT_OK ||
        (rc = tt_predict_proba_f64(m, in->x64 + r * nc, 1, nc, p64, 2, &e)) != TT_OK) {
      error(what, rc, &e);
      return;
    }
    g_checks += 4;
    if (l8 != batch->l8[r] || l64 != batch->l64[r] || memcmp(p8, batch->p8 + 2 * r, sizeof p8) ||
        memcmp(p64, batch->p64 + 2 * r, sizeof p64))
      mismatch("%s row %zu: the single-row result differs from the batch result", what, r);
  }
}

static void check_features(const tt_model *m, const ttt_input *in, const char *what) {
  g_checks++;
  if (tt_n_features(m) != in->n_cols) {
    mismatch("%s: tt_n_features = %zu, the input has %zu columns", what, tt_n_features(m), in->n_cols);
    return;
  }
  if (tt_n_classes(m) != TT_N_CLASSES) mismatch("%s: tt_n_classes = %zu", what, tt_n_classes(m));
  for (size_t j = 0; j < in->n_cols; j++) {
    const char *name = NULL;
    tt_error e;
    int32_t rc = tt_feature_name(m, j, &name, &e);
    if (rc != TT_OK) {
      error(what, rc, &e);
      return;
    }
    if (strcmp(name, in->names[j]) != 0)
      mismatch("%s: feature %zu is '%s', the input header says '%s'", what, j, name, in->names[j]);
  }
}

int main(void) {
  ttt_manifest man;
  if (ttt_manifest_load(&man)) return 2;
  printf("reference: %s\nmodels:    %s\nlibrary:   thetatree %s (ABI %u)\n", ttt_reference_dir(),
         ttt_models_dir(), tt_version_string(), tt_abi_version());
  if (tt_abi_version() != TT_ABI_VERSION) {
    fprintf(stderr, "ABI mismatch: header %u, library %u\n", (unsigned)TT_ABI_VERSION, tt_abi_version());
    return 1;
  }
  size_t golden_rows = 0, models_ok = 0;
  for (size_t i = 0; i < man.n; i++) {
    const ttt_ref_model *rm = &man.models[i];
    char *path = ttt_model_path(rm->name);
    size_t len;
    unsigned char *file = ttt_read_file(path, &len);
    if (!file) {
      g_errors++;
      free(path);
      continue;
    }
    size_t errors_before = g_errors, mismatches_before = g_mismatches;
    for (int missing = 0; missing <= 1; missing++) {
      ttt_input in;
      ttt_golden g;
      if (ttt_input_load(rm->dataset, missing, &in)) {
        g_errors++;
        continue;
      }
      if (ttt_golden_load(rm->name, missing, &g)) {
        g_errors++;
        ttt_input_free(&in);
        continue;
      }
      int shape_ok = g.n_rows == in.n_rows && g.n_rows > 0;
      for (size_t r = 0; shape_ok && r < g.n_rows; r++) shape_ok = g.row_ids[r] == in.row_ids[r];
      if (!shape_ok) {
        fprintf(stderr, "ERROR %s: golden and input rows differ\n", rm->name);
        g_errors++;
      } else {
        golden_rows += g.n_rows;
        double *derived = NULL; /* the first mode's int8 probabilities, for rows without golden */
        for (int mode = 0; mode < N_MODES; mode++) {
          char what[512];
          snprintf(what, sizeof what, "%s %s %s", rm->name, missing ? "X_missing" : "X", MODE_NAMES[mode]);
          unsigned char *keep;
          tt_model *m = load(mode, path, file, len, &keep);
          if (!m) continue;
          check_features(m, &in, what);
          outputs o;
          outputs_alloc(&o, in.n_rows);
          if (predict_all(m, &in, &o, what) == 0) {
            compare(what, &g, &o, derived);
            if (mode == MODE_LOAD) row_by_row(m, &in, &o, what);
            if (!derived) {
              derived = o.p8;
              o.p8 = NULL;
            }
          }
          outputs_free(&o);
          tt_free(m);
          free(keep);
        }
        free(derived);
      }
      ttt_golden_free(&g);
      ttt_input_free(&in);
    }
    if (g_errors == errors_before && g_mismatches == mismatches_before) models_ok++;
    printf("  %-32s %s\n", rm->name, g_errors == errors_before && g_mismatches == mismatches_before ? "ok" : "FAILED");
    free(file);
    free(path);
  }
  printf("parity (" TT_PARITY_VARIANT "): %zu models, %zu rows (x %d load modes x 4 entry points, + row-by-row), "
         "%zu checks, %zu mismatches, %zu errors\n",
         man.n, golden_rows, N_MODES, g_checks, g_mismatches, g_errors);
  int ok = g_mismatches == 0 && g_errors == 0 && models_ok == man.n && golden_rows > 0;
  ttt_manifest_free(&man);
  return ok ? 0 : 1;
}
