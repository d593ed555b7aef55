/*
 * Concurrency: 8 threads predict on ONE model at once (all four entry points, clean and
 * missing inputs, varying row ranges, plus metadata calls including the lazily computed
 * digest), while another thread loads and frees the other reference models in a loop (every
 * load mode) and predicts with them. Every result must equal the single-threaded result, which
 * is itself checked against the golden files first.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "thetatree.h"

#define N_PREDICTORS 8
#define ITERATIONS 150

static atomic_size_t g_failures, g_calls, g_loads;
static atomic_int g_predictors_done;

static void fail(const char *fmt, const char *a, long b) {
  if (atomic_fetch_add(&g_failures, 1) < 20) {
    fprintf(stderr, "FAIL: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
  }
}

typedef struct expected {
  const ttt_input *in;
  int32_t *l8, *l64;
  double *p8, *p64;
} expected;

static tt_model *g_model;
static expected g_exp[2]; /* clean, missing */
static uint8_t g_digest_seen[N_PREDICTORS][TT_DIGEST_LEN];
static pthread_barrier_t g_start;

/* xorshift, per thread */
static uint64_t next_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int compute(const tt_model *m, const ttt_input *in, size_t r0, size_t n, int32_t *l8,
                   int32_t *l64, double *p8, double *p64) {
  size_t nc = in->n_cols;
  tt_error e;
  int32_t rc;
  if ((rc = tt_predict(m, in->x8 + r0 * nc, n, nc, l8, n, &e)) != TT_OK ||
      (rc = tt_predict_f64(m, in->x64 + r0 * nc, n, nc, l64, n, &e)) != TT_OK ||
      (rc = tt_predict_proba(m, in->x8 + r0 * nc, n, nc, p8, 2 * n, &e)) != TT_OK ||
      (rc = tt_predict_proba_f64(m, in->x64 + r0 * nc, n, nc, p64, 2 * n, &e)) != TT_OK) {
    fail("predict failed: %s (%ld)", e.message, rc);
    return -1;
  }
  atomic_fetch_add(&g_calls, 4);
  return 0;
}

static void *predictor(void *arg) {
  size_t tid = (size_t)arg;
  uint64_t seed = 0x9E3779B97F4A7C15ull * (tid + 1);
  size_t max_rows = g_exp[0].in->n_rows > g_exp[1].in->n_rows ? g_exp[0].in->n_rows : g_exp[1].in->n_rows;
  int32_t *l8 = malloc(max_rows * sizeof *l8), *l64 = malloc(max_rows * sizeof *l64);
  double *p8 = malloc(2 * max_rows * sizeof *p8), *p64 = malloc(2 * max_rows * sizeof *p64);
  if (!l8 || !l64 || !p8 || !p64) abort();
  pthread_barrier_wait(&g_start);
  /* First thing after the start: every thread asks for the digest (computed once, lazily). */
  tt_error e;
  if (tt_model_digest(g_model, g_digest_seen[tid], TT_DIGEST_LEN, &e) != TT_OK)
    fail("tt_model_digest: %s%ld", e.message, 0);
  for (int it = 0; it < ITERATIONS; it++) {
    const expected *x = &g_exp[(tid + (size_t)it) % 2];
    size_t n_rows = x->in->n_rows;
    size_t r0 = (size_t)(next_rand(&seed) % n_rows);
    size_t n = it % 4 == 0 ? n_rows - r0 : 1 + (size_t)(next_rand(&seed) % (n_rows - r0));
    if (it % 8 == 0) {
      r0 = 0;
      n = n_rows;
    }
    if (compute(g_model, x->in, r0, n, l8, l64, p8, p64)) break;
    if (memcmp(l8, x->l8 + r0, n * sizeof *l8) || memcmp(l64, x->l64 + r0, n * sizeof *l64) ||
        memcmp(p8, x->p8 + 2 * r0, 2 * n * sizeof *p8) || memcmp(p64, x->p64 + 2 * r0, 2 * n * sizeof *p64))
      fail("thread %s: rows differ from the single-threaded results (iteration %ld)", "predictor", it);
    /* Metadata, concurrently. */
    size_t j = (size_t)(next_rand(&seed) % x->in->n_cols), idx = SIZE_MAX;
    const char *name = NULL, *label = NULL;
    if (tt_feature_name(g_model, j, &name, &e) != TT_OK || strcmp(name, x->in->names[j]) != 0 ||
        tt_feature_index(g_model, name, &idx, &e) != TT_OK || idx != j ||
        tt_class_label(g_model, (size_t)it % 2, &label, &e) != TT_OK || !label)
      fail("metadata mismatch for feature %s (%ld)", x->in->names[j], (long)j);
    uint8_t d[TT_DIGEST_LEN];
    if (tt_model_digest(g_model, d, sizeof d, &e) != TT_OK || memcmp(d, g_digest_seen[tid], sizeof d))
      fail("digest changed%s (%ld)", "", it);
  }
  free(l8);
  free(l64);
  free(p8);
  free(p64);
  atomic_fetch_add(&g_predictors_done, 1);
  return NULL;
}

typedef struct other {
  const char *name;
  char *path;
  unsigned char *file;
  size_t len;
  ttt_input in;   /* first rows only are used */
  ttt_golden g;
} other;

static other *g_others;
static size_t g_n_others;

static void *loader(void *arg) {
  (void)arg;
  pthread_barrier_wait(&g_start);
  enum { ROWS = 32 };
  int32_t labels[ROWS];
  double proba[2 * ROWS];
  size_t round = 0;
  /* At least a few full rounds, and keep going while predictors run. */
  while (round < 4 || atomic_load(&g_predictors_done) < N_PREDICTORS) {
    for (size_t i = 0; i < g_n_others; i++) {
      other *o = &g_others[i];
      tt_model *m = NULL;
      tt_error e;
      int32_t rc;
      unsigned char *borrowed = NULL;
      switch ((round + i) % 4) {
        case 0: rc = tt_load(o->path, TT_LOAD_DEFAULT, &m, &e); break;
        case 1: rc = tt_load(o->path, TT_LOAD_COPY, &m, &e); break;
        case 2: rc = tt_load_bytes(o->file, o->len, TT_LOAD_DEFAULT, &m, &e); break;
        default:
          borrowed = malloc(o->len);
          if (!borrowed) abort();
          memcpy(borrowed, o->file, o->len);
          rc = tt_load_bytes(borrowed, o->len, TT_LOAD_BORROW, &m, &e);
          break;
      }
      if (rc != TT_OK) {
        fail("loader: %s: load failed (%ld)", o->name, rc);
        free(borrowed);
        continue;
      }
      atomic_fetch_add(&g_loads, 1);
      size_t n = o->in.n_rows < ROWS ? o->in.n_rows : ROWS;
      if (tt_predict(m, o->in.x8, n, o->in.n_cols, labels, ROWS, &e) != TT_OK ||
          tt_predict_proba_f64(m, o->in.x64, n, o->in.n_cols, proba, 2 * ROWS, &e) != TT_OK) {
        fail("loader: %s: predict failed (%ld)", o->name, 0);
      } else {
        for (size_t r = 0; r < n; r++)
          if (labels[r] != o->g.pred[r] ||
              (o->g.has_proba[r] && (!ttt_same_double(proba[2 * r], o->g.p0[r]) ||
                                     !ttt_same_double(proba[2 * r + 1], o->g.p1[r]))))
            fail("loader: %s: row %ld differs from golden", o->name, (long)r);
      }
      tt_free(m);
      free(borrowed);
    }
    round++;
  }
  return NULL;
}

int main(void) {
  ttt_manifest man;
  if (ttt_manifest_load(&man)) return 2;

  /* The main model: the largest tree in the manifest. */
  size_t best = 0, best_nodes = 0;
  for (size_t i = 0; i < man.n; i++) {
    char *p = ttt_model_path(man.models[i].name);
    tt_model *m = NULL;
    tt_error e;
    if (tt_load(p, TT_LOAD_COPY, &m, &e) != TT_OK) {
      fprintf(stderr, "cannot load %s: %s\n", p, e.message);
      return 2;
    }
    if (tt_n_nodes(m) > best_nodes) {
      best_nodes = tt_n_nodes(m);
      best = i;
    }
    tt_free(m);
    free(p);
  }
  const ttt_ref_model *main_rm = &man.models[best];
  char *main_path = ttt_model_path(main_rm->name);
  tt_error e;
  if (tt_load(main_path, TT_LOAD_DEFAULT, &g_model, &e) != TT_OK) {
    fprintf(stderr, "cannot load %s: %s\n", main_path, e.message);
    return 2;
  }

  /* Single-threaded reference results, checked against golden. */
  ttt_input inputs[2];
  for (int k = 0; k < 2; k++) {
    ttt_golden g;
    if (ttt_input_load(main_rm->dataset, k, &inputs[k]) || ttt_golden_load(main_rm->name, k, &g)) return 2;
    size_t n = inputs[k].n_rows;
    expected *x = &g_exp[k];
    x->in = &inputs[k];
    x->l8 = malloc(n * sizeof *x->l8);
    x->l64 = malloc(n * sizeof *x->l64);
    x->p8 = malloc(2 * n * sizeof *x->p8);
    x->p64 = malloc(2 * n * sizeof *x->p64);
    if (!x->l8 || !x->l64 || !x->p8 || !x->p64) abort();
    if (compute(g_model, x->in, 0, n, x->l8, x->l64, x->p8, x->p64)) return 1;
    for (size_t r = 0; r < n; r++)
      if (x->l8[r] != g.pred[r] || x->l64[r] != g.pred[r] ||
          (g.has_proba[r] && (!ttt_same_double(x->p8[2 * r], g.p0[r]) || !ttt_same_double(x->p8[2 * r + 1], g.p1[r]))) ||
          memcmp(x->p8 + 2 * r, x->p64 + 2 * r, 2 * sizeof(double)))
        fail("single-threaded %s differs from golden at row %ld", main_rm->name, (long)r);
    ttt_golden_free(&g);
  }

  /* The other models, for the loader thread. */
  g_others = calloc(man.n, sizeof *g_others);
  if (!g_others) abort();
  for (size_t i = 0; i < man.n; i++) {
    if (i == best) continue;
    other *o = &g_others[g_n_others++];
    o->name = man.models[i].name;
    o->path = ttt_model_path(o->name);
    o->file = ttt_read_file(o->path, &o->len);
    if (!o->file || ttt_input_load(man.models[i].dataset, 0, &o->in) || ttt_golden_load(o->name, 0, &o->g))
      return 2;
  }

  printf("threads: %d predictors on %s (%zu nodes, %zu rows x %zu features), 1 loader over %zu models\n",
         N_PREDICTORS, main_rm->name, best_nodes, inputs[0].n_rows, inputs[0].n_cols, g_n_others);
  pthread_barrier_init(&g_start, NULL, N_PREDICTORS + 1);
  pthread_t th[N_PREDICTORS], ld;
  for (size_t t = 0; t < N_PREDICTORS; t++)
    if (pthread_create(&th[t], NULL, predictor, (void *)t)) return 2;
  if (pthread_create(&ld, NULL, loader, NULL)) return 2;
  for (size_t t = 0; t < N_PREDICTORS; t++) pthread_join(th[t], NULL);
  pthread_join(ld, NULL);
  pthread_barrier_destroy(&g_start);

  /* Every thread saw the same digest, equal to the file's SHA-256. */
  size_t len;
  unsigned char *file = ttt_read_file(main_path, &len);
  uint8_t want[32];
  if (!file) return 2;
  ttt_sha256(file, len, want);
  for (size_t t = 0; t < N_PREDICTORS; t++)
    if (memcmp(g_digest_seen[t], want, 32)) fail("thread %s%ld saw a wrong digest", "", (long)t);
  free(file);

  size_t failures = atomic_load(&g_failures);
  printf("threads: %zu predict calls, %zu loads by the loader thread, %zu failures\n",
         atomic_load(&g_calls), atomic_load(&g_loads), failures);

  tt_free(g_model);
  for (int k = 0; k < 2; k++) {
    free(g_exp[k].l8);
    free(g_exp[k].l64);
    free(g_exp[k].p8);
    free(g_exp[k].p64);
    ttt_input_free(&inputs[k]);
  }
  for (size_t i = 0; i < g_n_others; i++) {
    free(g_others[i].path);
    free(g_others[i].file);
    ttt_input_free(&g_others[i].in);
    ttt_golden_free(&g_others[i].g);
  }
  free(g_others);
  free(main_path);
  ttt_manifest_free(&man);
  return failures == 0 && atomic_load(&g_loads) >= 4 * g_n_others ? 0 : 1;
}
