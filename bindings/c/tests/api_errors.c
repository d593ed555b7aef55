/*
 * Every argument and load error of the C ABI, and the metadata functions.
 *
 * usage: api_errors MODEL_NAME SIGNED_MODEL KEY TMPDIR
 *   MODEL_NAME    a reference model with golden/edge_values__MODEL_NAME.csv (its root column)
 *   SIGNED_MODEL  MODEL_NAME signed with KEY by `thetatree sign` (a ctest fixture makes it)
 *   TMPDIR        scratch directory for hostile model files (created)
 *
 * Each failing call is made twice: with a tt_error (checked: code, row, column, byte_offset,
 * message) and with err == NULL (same status). Outputs are pre-filled with a pattern and must
 * be untouched after every failure; a successful call must not touch the tt_error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "golden.h"
#include "thetatree.h"

static size_t g_checks, g_failures;

#define CHECK(cond, ...)                                                             \
  do {                                                                               \
    g_checks++;                                                                      \
    if (!(cond)) {                                                                   \
      g_failures++;                                                                  \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);      \
      fprintf(stderr, __VA_ARGS__);                                                  \
      fputc('\n', stderr);                                                           \
    }                                                                                \
  } while (0)

#define CHECK_OK(call)                                                                   \
  do {                                                                                   \
    tt_error e_;                                                                         \
    memset(&e_, 0xCD, sizeof e_);                                                        \
    tt_error *E = &e_;                                                                   \
    (void)E;                                                                             \
    int32_t rc_ = (call);                                                                \
    CHECK(rc_ == TT_OK, "%s returned %s: %.256s", #call, tt_status_str(rc_), e_.message); \
    if (rc_ == TT_OK) CHECK(untouched_error(&e_), "%s succeeded but wrote *err", #call); \
  } while (0)

/* Run `call` (which must use `E` as its tt_error* argument) with a tt_error and with NULL;
 * both must fail with `want`; the tt_error must carry want/row/column/offset and a message. */
#define EXPECT_FAIL_AT(want, row, col, off, call)                                       \
  do {                                                                                  \
    tt_error e_;                                                                        \
    memset(&e_, 0xCD, sizeof e_);                                                       \
    tt_error *E = &e_;                                                                  \
    int32_t rc_ = (call);                                                               \
    check_error(__LINE__, #call, rc_, &e_, (want), (row), (col), (off));                \
    E = NULL;                                                                           \
    int32_t rc2_ = (call);                                                              \
    CHECK(rc2_ == (want), "%s with err=NULL returned %s, expected %s", #call,           \
          tt_status_str(rc2_), tt_status_str(want));                                    \
  } while (0)
#define EXPECT_FAIL(want, call) EXPECT_FAIL_AT(want, -1, -1, 0, call)

static int untouched_error(const tt_error *e) {
  const unsigned char *p = (const unsigned char *)e;
  for (size_t i = 0; i < sizeof *e; i++)
    if (p[i] != 0xCD) return 0;
  return 1;
}

static void check_error(int line, const char *call, int32_t rc, const tt_error *e, int32_t want,
                        int64_t row, int64_t col, uint64_t off) {
  g_checks++;
  int ok = rc == want && e->code == want && e->row == row && e->column == col &&
           e->byte_offset == off && memchr(e->message, '\0', sizeof e->message) != NULL &&
           e->message[0] != '\0';
  if (!ok) {
    g_failures++;
    fprintf(stderr,
            "%s:%d: %s\n  returned %s (%d); err: code %d row %lld column %lld byte_offset %llu "
            "message '%.255s'\n  expected %s row %lld column %lld byte_offset %llu, a message\n",
            __FILE__, line, call, tt_status_str(rc), rc, e->code, (long long)e->row,
            (long long)e->column, (unsigned long long)e->byte_offset,
            memchr(e->message, '\0', sizeof e->message) ? e->message : "<no NUL>",
            tt_status_str(want), (long long)row, (long long)col, (unsigned long long)off);
  }
}

/* An address that no load ever returns: *out must still hold it after a failed load. */
static int g_sentinel_storage;
#define SENTINEL ((tt_model *)(void *)&g_sentinel_storage)

static const unsigned char PATTERN = 0x5A;
static int all_pattern(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != PATTERN) return 0;
  return 1;
}

/* ---------------------------------------------------------------------------------------- */

static void test_versions_and_status(void) {
  CHECK(tt_abi_version() == TT_ABI_VERSION, "tt_abi_version() = %u, header %u", tt_abi_version(),
        (unsigned)TT_ABI_VERSION);
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", TT_VERSION_MAJOR, TT_VERSION_MINOR, TT_VERSION_PATCH);
  CHECK(tt_version_string() && strcmp(tt_version_string(), want) == 0,
        "tt_version_string() = '%s', header says %s", tt_version_string(), want);

#define S(c) {c, #c}
  static const struct {
    int32_t code;
    const char *name;
  } codes[] = {S(TT_OK),
               S(TT_ERR_NULL_ARG),
               S(TT_ERR_LENGTH),
               S(TT_ERR_SHAPE),
               S(TT_ERR_INPUT_VALUE),
               S(TT_ERR_IO),
               S(TT_ERR_BAD_MAGIC),
               S(TT_ERR_VERSION),
               S(TT_ERR_ENDIAN),
               S(TT_ERR_TRUNCATED),
               S(TT_ERR_TRAILING_BYTES),
               S(TT_ERR_CHECKSUM),
               S(TT_ERR_BOUNDS),
               S(TT_ERR_LAYOUT),
               S(TT_ERR_LIMIT),
               S(TT_ERR_GRAPH),
               S(TT_ERR_CORRUPT),
               S(TT_ERR_FLAGS),
               S(TT_ERR_PANIC),
               S(TT_ERR_NOT_FOUND),
               S(TT_ERR_ALIGNMENT),
               S(TT_ERR_UNSIGNED),
               S(TT_ERR_KEY_MISMATCH),
               S(TT_ERR_BAD_SIGNATURE),
               S(TT_ERR_NO_KEY)};
#undef S
  size_t n = sizeof codes / sizeof codes[0];
  int32_t max = 0;
  for (size_t i = 0; i < n; i++) {
    const char *s = tt_status_str(codes[i].code);
    CHECK(s && strcmp(s, codes[i].name) == 0, "tt_status_str(%d) = '%s', expected '%s'",
          codes[i].code, s, codes[i].name);
    for (size_t j = 0; j < i; j++)
      CHECK(codes[i].code != codes[j].code, "%s and %s share code %d", codes[i].name,
            codes[j].name, codes[i].code);
    if (codes[i].code > max) max = codes[i].code;
  }
  CHECK(codes[0].code == 0, "TT_OK must be 0");
  /* Codes are dense 0..max: the table above covers every code the header defines, and a new
   * code makes max + 1 known to the library, failing here until this table is updated. */
  CHECK((size_t)max + 1 == n, "status codes are not dense 0..%d", max);
  const int32_t unknown[] = {max + 1, -1, 1000, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = tt_status_str(unknown[i]);
    CHECK(s && strcmp(s, "TT_ERR_UNKNOWN") == 0, "tt_status_str(%d) = '%s'", unknown[i], s);
  }
  CHECK(TT_ERROR_MESSAGE_LEN == sizeof(((tt_error *)0)->message), "message size");
  CHECK(TT_DIGEST_LEN == 32, "digest length");
  CHECK(TT_N_CLASSES == 2, "two classes");
}

static void test_null_model_getters(void) {
  tt_free(NULL); /* documented no-op */
  CHECK(tt_n_features(NULL) == 0, "tt_n_features(NULL)");
  CHECK(tt_n_classes(NULL) == 0, "tt_n_classes(NULL)");
  CHECK(tt_n_nodes(NULL) == 0, "tt_n_nodes(NULL)");
  CHECK(tt_n_leaves(NULL) == 0, "tt_n_leaves(NULL)");
  CHECK(tt_max_depth(NULL) == 0, "tt_max_depth(NULL)");
  CHECK(tt_model_version(NULL) == NULL, "tt_model_version(NULL)");
  CHECK(tt_metadata_json(NULL) == NULL, "tt_metadata_json(NULL)");
  CHECK(tt_model_crc32(NULL) == 0, "tt_model_crc32(NULL)");
  CHECK(tt_model_is_signed(NULL) == 0, "tt_model_is_signed(NULL)");
  const char *s = (const char *)"untouched";
  size_t idx = 12345;
  uint8_t digest[TT_DIGEST_LEN];
  memset(digest, PATTERN, sizeof digest);
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_feature_name(NULL, 0, &s, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_feature_index(NULL, "x", &idx, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_class_label(NULL, 0, &s, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_model_digest(NULL, digest, sizeof digest, E));
  CHECK(strcmp(s, "untouched") == 0 && idx == 12345 && all_pattern(digest, sizeof digest),
        "outputs written by failing metadata calls");
}

/* ---------------------------------------------------------------------------------------- */
/* Load errors. */

static char *g_tmpdir;

static char *tmp_file(const char *name, const void *data, size_t len) {
  char *p = ttt_concat(g_tmpdir, "/", name, (char *)NULL);
  if (ttt_write_file(p, data, len)) {
    g_failures++;
  }
  return p;
}

/* Loading `bytes` (also written to a file) in every way must fail with `want` at `off`. */
static void expect_load_fails(const char *label, const unsigned char *bytes, size_t len,
                              int32_t want, uint64_t off) {
  char *path = tmp_file(label, bytes, len);
  unsigned char *copy = malloc(len ? len : 1);
  if (!copy) abort();
  if (len) memcpy(copy, bytes, len);
  tt_model *m = SENTINEL;
  fprintf(stderr, "  hostile file '%s' (%zu bytes): expect %s\n", label, len, tt_status_str(want));
  EXPECT_FAIL_AT(want, -1, -1, off, tt_load(path, TT_LOAD_DEFAULT, &m, E));
  EXPECT_FAIL_AT(want, -1, -1, off, tt_load(path, TT_LOAD_COPY, &m, E));
  EXPECT_FAIL_AT(want, -1, -1, off, tt_load_bytes(copy, len, TT_LOAD_DEFAULT, &m, E));
  EXPECT_FAIL_AT(want, -1, -1, off, tt_load_bytes(copy, len, TT_LOAD_BORROW, &m, E));
  CHECK(m == SENTINEL, "%s: *out written by a failing load", label);
  free(copy);
  free(path);
}

static void test_load_errors(const char *model_path, const unsigned char *file, size_t len) {
  tt_model *m = SENTINEL;
  uint8_t key[4] = {1, 2, 3, 4};

  /* NULL arguments. */
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load(NULL, TT_LOAD_DEFAULT, &m, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load(model_path, TT_LOAD_DEFAULT, NULL, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load(model_path, TT_LOAD_COPY, NULL, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_bytes(NULL, len, TT_LOAD_DEFAULT, &m, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_bytes(NULL, 0, TT_LOAD_BORROW, &m, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_bytes(file, len, TT_LOAD_DEFAULT, NULL, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_bytes(file, len, TT_LOAD_BORROW, NULL, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_verified(NULL, key, sizeof key, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_verified(model_path, key, sizeof key, 0, NULL, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_bytes_verified(NULL, len, key, sizeof key, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_load_bytes_verified(file, len, key, sizeof key, 0, NULL, E));

  /* Flags: unknown bits, BORROW on a path load, COPY|BORROW. */
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load(model_path, 16u, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load(model_path, 0x80000000u, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load(model_path, TT_LOAD_BORROW, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load(model_path, TT_LOAD_COPY | TT_LOAD_BORROW, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load_verified(model_path, key, sizeof key, TT_LOAD_BORROW, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load_bytes(file, len, 16u, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load_bytes(file, len, ~0u, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load_bytes(file, len, TT_LOAD_COPY | TT_LOAD_BORROW, &m, E));
  EXPECT_FAIL(TT_ERR_FLAGS, tt_load_bytes_verified(file, len, key, sizeof key,
                                                   TT_LOAD_COPY | TT_LOAD_BORROW, &m, E));

  /* Signature requested without a key. */
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load(model_path, TT_LOAD_REQUIRE_SIGNATURE, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load_bytes(file, len, TT_LOAD_REQUIRE_SIGNATURE, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load_verified(model_path, NULL, 0, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load_verified(model_path, key, 0, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load_bytes_verified(file, len, NULL, 0, 0, &m, E));
  /* An unsigned model with a key. */
  EXPECT_FAIL(TT_ERR_UNSIGNED, tt_load_verified(model_path, key, sizeof key, 0, &m, E));
  EXPECT_FAIL(TT_ERR_UNSIGNED, tt_load_bytes_verified(file, len, key, sizeof key, 0, &m, E));

  /* I/O. */
  char *missing = ttt_concat(g_tmpdir, "/no-such-model.ttm", (char *)NULL);
  EXPECT_FAIL(TT_ERR_IO, tt_load(missing, TT_LOAD_DEFAULT, &m, E));
  EXPECT_FAIL(TT_ERR_IO, tt_load(missing, TT_LOAD_COPY, &m, E));
  EXPECT_FAIL(TT_ERR_IO, tt_load_verified(missing, key, sizeof key, 0, &m, E));
  EXPECT_FAIL(TT_ERR_IO, tt_load(g_tmpdir, TT_LOAD_DEFAULT, &m, E)); /* a directory */
  EXPECT_FAIL(TT_ERR_IO, tt_load(g_tmpdir, TT_LOAD_COPY, &m, E));
  EXPECT_FAIL(TT_ERR_IO, tt_load("", TT_LOAD_DEFAULT, &m, E));
  free(missing);
  CHECK(m == SENTINEL, "*out written by a failing load");

  /* Hostile bytes, through files (mmap and copy) and memory (copy and borrow). */
  unsigned char garbage[4096];
  for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (unsigned char)("not a model! "[i % 13]);
  expect_load_fails("garbage.ttm", garbage, sizeof garbage, TT_ERR_BAD_MAGIC, 0);
  expect_load_fails("one-byte.ttm", (const unsigned char *)"X", 1, TT_ERR_BAD_MAGIC, 0);
  expect_load_fails("empty.ttm", file, 0, TT_ERR_TRUNCATED, 0);
  expect_load_fails("half.ttm", file, len / 2, TT_ERR_TRUNCATED, len / 2);
  expect_load_fails("minus-one.ttm", file, len - 1, TT_ERR_TRUNCATED, len - 1);
  expect_load_fails("magic-only.ttm", file, 8, TT_ERR_TRUNCATED, 8);

  unsigned char *bad = malloc(len + 1);
  if (!bad) abort();
  const size_t flips[] = {len / 2, len - 1};
  for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
    memcpy(bad, file, len);
    bad[flips[i]] ^= 0x01;
    char label[64];
    snprintf(label, sizeof label, "flip-%zu.ttm", flips[i]);
    /* byte_offset names the CRC field (offset 32 of the header). */
    expect_load_fails(label, bad, len, TT_ERR_CHECKSUM, 32);
  }
  memcpy(bad, file, len);
  bad[len] = 0;
  expect_load_fails("trailing-byte.ttm", bad, len + 1, TT_ERR_TRAILING_BYTES, len);
  free(bad);
}

static void check_same_model(const tt_model *a, const tt_model *b, const char *what) {
  uint8_t da[TT_DIGEST_LEN], db[TT_DIGEST_LEN];
  CHECK_OK(tt_model_digest(a, da, sizeof da, E));
  CHECK_OK(tt_model_digest(b, db, sizeof db, E));
  CHECK(memcmp(da, db, sizeof da) == 0, "%s: digests differ", what);
  CHECK(tt_model_crc32(a) == tt_model_crc32(b), "%s: crc32 differs", what);
  CHECK(tt_n_nodes(a) == tt_n_nodes(b) && tt_n_features(a) == tt_n_features(b), "%s: shape", what);
}

static void test_signatures(const tt_model *plain, const char *signed_path, const char *key_str) {
  const uint8_t *key = (const uint8_t *)key_str;
  size_t key_len = strlen(key_str);
  const uint8_t wrong[] = "another key";
  size_t len;
  unsigned char *file = ttt_read_file(signed_path, &len);
  CHECK(file != NULL, "cannot read the signed model %s", signed_path);
  if (!file) return;
  CHECK(len > 64 + 176, "signed model too short (%zu bytes)", len);
  if (len <= 64 + 176) {
    free(file);
    return;
  }

  tt_model *m = NULL;
  CHECK_OK(tt_load_verified(signed_path, key, key_len, TT_LOAD_DEFAULT, &m, E));
  if (m) {
    CHECK(tt_model_is_signed(m) == 1, "signed model: is_signed = %d", tt_model_is_signed(m));
    check_same_model(plain, m, "signed vs unsigned");
    tt_free(m);
    m = NULL;
  }
  CHECK_OK(tt_load_verified(signed_path, key, key_len, TT_LOAD_COPY, &m, E));
  tt_free(m);
  m = NULL;
  CHECK_OK(tt_load_verified(signed_path, key, key_len, TT_LOAD_REQUIRE_SIGNATURE, &m, E));
  tt_free(m);
  m = NULL;
  CHECK_OK(tt_load_bytes_verified(file, len, key, key_len, TT_LOAD_DEFAULT, &m, E));
  tt_free(m);
  m = NULL;
  CHECK_OK(tt_load_bytes_verified(file, len, key, key_len, TT_LOAD_BORROW, &m, E));
  tt_free(m);
  m = NULL;
  /* Plain loads accept a signed file (the trailer is not verified) and report it. */
  CHECK_OK(tt_load(signed_path, TT_LOAD_DEFAULT, &m, E));
  CHECK(m && tt_model_is_signed(m) == 1, "plain load of a signed file: is_signed");
  if (m) check_same_model(plain, m, "plain load of the signed file");
  tt_free(m);
  m = NULL;
  CHECK(tt_model_is_signed(plain) == 0, "unsigned model: is_signed = %d", tt_model_is_signed(plain));

  /* Signature errors point into the 64-byte trailer after the model: the key id at +8, the
   * MAC at +32. */
  const uint64_t model_len = len - 64, key_id_at = model_len + 8, mac_at = model_len + 32;
  m = SENTINEL;
  EXPECT_FAIL_AT(TT_ERR_KEY_MISMATCH, -1, -1, key_id_at,
                 tt_load_verified(signed_path, wrong, sizeof wrong - 1, 0, &m, E));
  EXPECT_FAIL_AT(TT_ERR_KEY_MISMATCH, -1, -1, key_id_at,
                 tt_load_bytes_verified(file, len, wrong, sizeof wrong - 1, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load_verified(signed_path, NULL, 0, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load_verified(signed_path, key, 0, 0, &m, E));
  EXPECT_FAIL(TT_ERR_NO_KEY, tt_load(signed_path, TT_LOAD_REQUIRE_SIGNATURE, &m, E));

  /* Modified after signing: the model part (the trailer is the last 64 bytes). */
  unsigned char *tampered = malloc(len);
  if (!tampered) abort();
  memcpy(tampered, file, len);
  tampered[(len - 64) / 2] ^= 0x10;
  char *tpath = tmp_file("tampered-signed.ttm", tampered, len);
  EXPECT_FAIL_AT(TT_ERR_BAD_SIGNATURE, -1, -1, mac_at, tt_load_verified(tpath, key, key_len, 0, &m, E));
  EXPECT_FAIL_AT(TT_ERR_BAD_SIGNATURE, -1, -1, mac_at,
                 tt_load_verified(tpath, key, key_len, TT_LOAD_COPY, &m, E));
  EXPECT_FAIL_AT(TT_ERR_BAD_SIGNATURE, -1, -1, mac_at,
                 tt_load_bytes_verified(tampered, len, key, key_len, 0, &m, E));
  EXPECT_FAIL_AT(TT_ERR_BAD_SIGNATURE, -1, -1, mac_at,
                 tt_load_bytes_verified(tampered, len, key, key_len, TT_LOAD_BORROW, &m, E));
  /* Without verification, the tampering is still caught by the CRC. */
  EXPECT_FAIL_AT(TT_ERR_CHECKSUM, -1, -1, 32, tt_load(tpath, 0, &m, E));
  CHECK(m == SENTINEL, "*out written by a failing verified load");
  free(tpath);
  free(tampered);
  free(file);
}

/* ---------------------------------------------------------------------------------------- */
/* Predict errors, for the four entry points through one signature. */

typedef int32_t (*predict_fn)(const tt_model *, const void *, size_t, size_t, void *, size_t,
                              tt_error *);
static int32_t p_i8(const tt_model *m, const void *x, size_t r, size_t c, void *o, size_t n,
                    tt_error *e) {
  return tt_predict(m, x, r, c, o, n, e);
}
static int32_t pp_i8(const tt_model *m, const void *x, size_t r, size_t c, void *o, size_t n,
                     tt_error *e) {
  return tt_predict_proba(m, x, r, c, o, n, e);
}
static int32_t p_f64(const tt_model *m, const void *x, size_t r, size_t c, void *o, size_t n,
                     tt_error *e) {
  return tt_predict_f64(m, x, r, c, o, n, e);
}
static int32_t pp_f64(const tt_model *m, const void *x, size_t r, size_t c, void *o, size_t n,
                      tt_error *e) {
  return tt_predict_proba_f64(m, x, r, c, o, n, e);
}

typedef struct entry {
  const char *name;
  predict_fn fn;
  int f64_in;      /* input is double (else int8) */
  size_t per_row;  /* outputs per row: 1 label or 2 probabilities */
  size_t out_size; /* sizeof an output element */
} entry;

static const entry ENTRIES[] = {
    {"tt_predict", p_i8, 0, 1, sizeof(int32_t)},
    {"tt_predict_proba", pp_i8, 0, 2, sizeof(double)},
    {"tt_predict_f64", p_f64, 1, 1, sizeof(int32_t)},
    {"tt_predict_proba_f64", pp_f64, 1, 2, sizeof(double)},
};
#define N_ENTRIES (sizeof ENTRIES / sizeof ENTRIES[0])

typedef struct ctx {
  const tt_model *m;
  const ttt_input *in; /* clean input of the model's dataset */
  const ttt_golden *g; /* its golden outputs */
  size_t nf;
  long root_col; /* the root split's column, from golden/edge_values__<model>.csv */
} ctx;

/* The golden output of row r as bytes of this entry's output type. */
static void golden_out(const ctx *c, const entry *en, size_t r, void *dst) {
  if (en->per_row == 1) {
    int32_t l = c->g->pred[r];
    memcpy(dst, &l, sizeof l);
  } else {
    double p[2] = {c->g->p0[r], c->g->p1[r]};
    memcpy(dst, p, sizeof p);
  }
}

static void test_predict_args(const ctx *c, const entry *en) {
  enum { N = 5 };
  const size_t nf = c->nf;
  const void *x = en->f64_in ? (const void *)c->in->x64 : (const void *)c->in->x8;
  const size_t need = N * en->per_row, outbytes = (need + 8) * en->out_size;
  /* 8-aligned output storage, pre-filled with PATTERN */
  double *store = malloc(outbytes + 16);
  if (!store) abort();
  void *out = store;
  memset(store, PATTERN, outbytes + 16);
  const tt_model *m = c->m;
  fprintf(stderr, "  predict argument errors: %s\n", en->name);

  /* NULL model, x, out. */
  EXPECT_FAIL(TT_ERR_NULL_ARG, en->fn(NULL, x, N, nf, out, need, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, en->fn(m, NULL, N, nf, out, need, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, en->fn(m, x, N, nf, NULL, need, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, en->fn(m, NULL, 0, nf, out, 0, E));
  /* Shape: wrong n_cols; n_rows * n_cols overflowing size_t, or exceeding isize::MAX bytes. */
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, N, nf - 1, out, need, E));
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, N, nf + 1, out, need, E));
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, N, 0, out, need, E));
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, N, SIZE_MAX, out, need, E));
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, SIZE_MAX, nf, out, need, E));
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, SIZE_MAX / nf + 1, nf, out, SIZE_MAX, E));
  EXPECT_FAIL(TT_ERR_SHAPE, en->fn(m, x, (SIZE_MAX / 2) / nf + 1, nf, out, SIZE_MAX, E));
  /* Output too small: nothing written at all. */
  EXPECT_FAIL(TT_ERR_LENGTH, en->fn(m, x, N, nf, out, need - 1, E));
  EXPECT_FAIL(TT_ERR_LENGTH, en->fn(m, x, N, nf, out, 0, E));
  EXPECT_FAIL(TT_ERR_LENGTH, en->fn(m, x, 1, nf, out, en->per_row - 1, E));
  CHECK(all_pattern(store, outbytes + 16), "%s: a failing call wrote to out", en->name);

  /* Misaligned pointers. x for double input, out always (int32 or double). */
  if (en->f64_in) {
    double *xs = malloc(N * nf * sizeof(double) + 8);
    if (!xs) abort();
    memcpy((char *)xs + 1, c->in->x64, N * nf * sizeof(double));
    EXPECT_FAIL(TT_ERR_ALIGNMENT, en->fn(m, (char *)xs + 1, N, nf, out, need, E));
    free(xs);
  }
  for (size_t mis = 1; mis < en->out_size; mis++)
    EXPECT_FAIL(TT_ERR_ALIGNMENT, en->fn(m, x, N, nf, (char *)out + mis, need, E));
  CHECK(all_pattern(store, outbytes + 16), "%s: a failing call wrote to out", en->name);

  /* Zero rows: success, nothing written. */
  CHECK_OK(en->fn(m, x, 0, nf, out, 0, E));
  CHECK_OK(en->fn(m, x, 0, nf, out, need, E));
  CHECK(all_pattern(store, outbytes + 16), "%s: zero rows wrote to out", en->name);

  /* Exactly N rows into a longer buffer: the golden values, and nothing past them. */
  CHECK_OK(en->fn(m, x, N, nf, out, need + 3, E));
  for (size_t r = 0; r < N; r++) {
    unsigned char want[16];
    golden_out(c, en, r, want);
    CHECK(memcmp((char *)out + r * en->per_row * en->out_size, want, en->per_row * en->out_size) == 0,
          "%s: row %zu differs from golden", en->name, r);
  }
  CHECK(all_pattern((char *)out + need * en->out_size, outbytes + 16 - need * en->out_size),
        "%s: wrote past n_rows outputs", en->name);
  free(store);
}

/* Invalid cell values: TT_ERR_INPUT_VALUE naming row and column; earlier rows written. */
static void test_input_values(const ctx *c, const entry *en) {
  enum { N = 6, BAD_ROW = 3 };
  const size_t nf = c->nf, col = (size_t)c->root_col;
  const int8_t bad8[] = {2, -2, 3, 127, -128};
  const double bad64[] = {2.0, -1.0, 0.5, -0.5, 1e-300, -1e-300, 5e-324, DBL_MIN, 1.0 + DBL_EPSILON,
                          1.0 - DBL_EPSILON / 2, INFINITY, -INFINITY, 1e300, 255.0};
  size_t nbad = en->f64_in ? sizeof bad64 / sizeof bad64[0] : sizeof bad8 / sizeof bad8[0];
  for (size_t k = 0; k < nbad; k++) {
    for (size_t bad_row = 0; bad_row < N; bad_row += BAD_ROW) {
      int8_t x8[N * 512];
      double x64[N * 512];
      if (nf > 512) abort();
      memcpy(x8, c->in->x8, N * nf);
      memcpy(x64, c->in->x64, N * nf * sizeof(double));
      x8[bad_row * nf + col] = en->f64_in ? 0 : bad8[k];
      x64[bad_row * nf + col] = en->f64_in ? bad64[k] : 0.0;
      const void *x = en->f64_in ? (const void *)x64 : (const void *)x8;
      double store[2 * N];
      memset(store, PATTERN, sizeof store);
      EXPECT_FAIL_AT(TT_ERR_INPUT_VALUE, (int64_t)bad_row, (int64_t)col, 0,
                     en->fn(c->m, x, N, nf, store, N * en->per_row, E));
      for (size_t r = 0; r < bad_row; r++) {
        unsigned char want[16];
        golden_out(c, en, r, want);
        CHECK(memcmp((char *)store + r * en->per_row * en->out_size, want,
                     en->per_row * en->out_size) == 0,
              "%s: bad value %s at row %zu: earlier row %zu not written as golden", en->name,
              en->f64_in ? "double" : "int8", bad_row, r);
      }
    }
  }
  /* The error message names the offending feature. */
  {
    int8_t x8[512];
    double x64[512];
    memcpy(x8, c->in->x8, nf);
    memcpy(x64, c->in->x64, nf * sizeof(double));
    x8[col] = 7;
    x64[col] = 7.0;
    double out[2];
    tt_error e;
    int32_t rc = en->fn(c->m, en->f64_in ? (const void *)x64 : (const void *)x8, 1, nf, out, 2, &e);
    const char *name = NULL;
    CHECK_OK(tt_feature_name(c->m, col, &name, E));
    CHECK(rc == TT_ERR_INPUT_VALUE && name && strstr(e.message, name) != NULL,
          "%s: message '%s' does not name feature '%s'", en->name, e.message, name);
  }
}

/* golden/edge_values__<model>.csv: value semantics of the root split column, per entry point. */
static void test_edge_values(const ctx *c, const char *model_name) {
  char *path = ttt_concat(ttt_reference_dir(), "/golden/edge_values__", model_name, ".csv", (char *)NULL);
  size_t len;
  char *text = ttt_read_data(path, &len);
  CHECK(text != NULL, "cannot read %s", path);
  if (!text) {
    free(path);
    return;
  }
  const size_t nf = c->nf;
  size_t n_lines = 0, n_ok = 0, n_rejected = 0, n_missing = 0;
  char *save = NULL;
  char *line = strtok_r(text, "\n", &save); /* header */
  CHECK(line && strcmp(line, "row,modified_feature_idx,value,public_predict,traverser_pred,"
                             "traverser_p0,traverser_p1,leaf_preorder") == 0,
        "%s: unexpected header", path);
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    char *f[8];
    size_t k = 0;
    for (char *p = line; k < 8; k++) {
      f[k] = p;
      char *comma = strchr(p, ',');
      if (!comma) {
        k++;
        break;
      }
      *comma = '\0';
      p = comma + 1;
    }
    if (k != 8) {
      CHECK(0, "%s: malformed line", path);
      continue;
    }
    n_lines++;
    long row_id = strtol(f[0], NULL, 10), col = strtol(f[1], NULL, 10);
    CHECK(col == c->root_col, "edge file uses several columns");
    size_t r = SIZE_MAX;
    for (size_t i = 0; i < c->in->n_rows; i++)
      if (c->in->row_ids[i] == row_id) r = i;
    CHECK(r != SIZE_MAX, "edge row id %ld not in the input", row_id);
    if (r == SIZE_MAX) continue;
    const char *value = f[2], *pub = f[3];
    int32_t t_pred = (int32_t)strtol(f[4], NULL, 10);
    double t_p0 = strtod(f[5], NULL), t_p1 = strtod(f[6], NULL);
    if (strncmp(value, "int64(", 6) == 0) continue; /* int8 -1 is "missing" in this ABI: see nan */
    int is_nan = strcmp(value, "nan") == 0;
    double v = is_nan ? NAN : strtod(value, NULL);
    double x64[512];
    int8_t x8[512];
    memcpy(x64, c->in->x64 + r * nf, nf * sizeof(double));
    memcpy(x8, c->in->x8 + r * nf, nf);
    x64[col] = v;
    int has_i8 = is_nan || v == 0.0 || v == 1.0 || v == 2.0; /* representable int8 cells */
    x8[col] = is_nan ? -1 : (int8_t)v;
    int32_t l8 = -7, l64 = -7;
    double p8[2] = {-1, -1}, p64[2] = {-1, -1};
    if (is_nan || strncmp(pub, "ok:", 3) == 0) {
      /* Accepted: the traverser's outputs (= the public predict's for valid values). */
      int32_t want_label = is_nan ? t_pred : (int32_t)strtol(pub + 3, NULL, 10);
      CHECK(want_label == t_pred, "edge file: public and traverser labels disagree");
      CHECK_OK(tt_predict_f64(c->m, x64, 1, nf, &l64, 1, E));
      CHECK_OK(tt_predict_proba_f64(c->m, x64, 1, nf, p64, 2, E));
      CHECK(l64 == want_label && ttt_same_double(p64[0], t_p0) && ttt_same_double(p64[1], t_p1),
            "edge row %ld value %s (f64): got %d (%a, %a), want %d (%a, %a)", row_id, value, l64,
            p64[0], p64[1], want_label, t_p0, t_p1);
      if (has_i8) {
        CHECK_OK(tt_predict(c->m, x8, 1, nf, &l8, 1, E));
        CHECK_OK(tt_predict_proba(c->m, x8, 1, nf, p8, 2, E));
        CHECK(l8 == want_label && ttt_same_double(p8[0], t_p0) && ttt_same_double(p8[1], t_p1),
              "edge row %ld value %s (int8 %d): got %d (%a, %a), want %d", row_id, value, x8[col],
              l8, p8[0], p8[1], want_label);
      }
      if (is_nan) n_missing++; else n_ok++;
    } else {
      CHECK(strcmp(pub, "ValueError") == 0, "edge file: unexpected public_predict '%s'", pub);
      EXPECT_FAIL_AT(TT_ERR_INPUT_VALUE, 0, col, 0, tt_predict_f64(c->m, x64, 1, nf, &l64, 1, E));
      EXPECT_FAIL_AT(TT_ERR_INPUT_VALUE, 0, col, 0, tt_predict_proba_f64(c->m, x64, 1, nf, p64, 2, E));
      if (has_i8) {
        EXPECT_FAIL_AT(TT_ERR_INPUT_VALUE, 0, col, 0, tt_predict(c->m, x8, 1, nf, &l8, 1, E));
        EXPECT_FAIL_AT(TT_ERR_INPUT_VALUE, 0, col, 0, tt_predict_proba(c->m, x8, 1, nf, p8, 2, E));
      }
      n_rejected++;
    }
  }
  CHECK(n_ok > 0 && n_rejected > 0 && n_missing > 0,
        "edge file exercised %zu accepted, %zu rejected, %zu missing values", n_ok, n_rejected,
        n_missing);
  fprintf(stderr, "  edge values: %zu lines, %zu accepted, %zu rejected, %zu missing\n", n_lines,
          n_ok, n_rejected, n_missing);
  free(text);
  free(path);
}

/* ---------------------------------------------------------------------------------------- */
/* Metadata, for every reference model. */

static void test_metadata(const ttt_ref_model *rm) {
  char *path = ttt_model_path(rm->name);
  size_t len;
  unsigned char *file = ttt_read_file(path, &len);
  ttt_input in;
  ttt_golden g;
  CHECK(file != NULL, "cannot read %s", path);
  int have_in = ttt_input_load(rm->dataset, 0, &in) == 0;
  int have_g = ttt_golden_load(rm->name, 0, &g) == 0;
  CHECK(have_in && have_g, "%s: cannot load input/golden", rm->name);
  tt_model *m = NULL;
  CHECK_OK(tt_load(path, TT_LOAD_DEFAULT, &m, E));
  if (!m || !file || !have_in || !have_g) goto done;

  size_t nf = tt_n_features(m);
  CHECK(nf == in.n_cols, "%s: n_features %zu, input has %zu", rm->name, nf, in.n_cols);
  if (nf != in.n_cols) goto done;
  for (size_t i = 0; i < nf; i++) {
    const char *name = NULL;
    size_t idx = SIZE_MAX;
    CHECK_OK(tt_feature_name(m, i, &name, E));
    if (!name) continue;
    CHECK(strcmp(name, in.names[i]) == 0, "%s: feature %zu '%s' != '%s'", rm->name, i, name, in.names[i]);
    CHECK_OK(tt_feature_index(m, name, &idx, E));
    CHECK(idx == i, "%s: feature_index('%s') = %zu, expected %zu", rm->name, name, idx, i);
    /* Exact byte match only: a prefix, an extension, or a case change is not found. */
    size_t nl = strlen(name);
    char *probe = malloc(nl + 2);
    if (!probe) abort();
    memcpy(probe, name, nl + 1);
    strcat(probe, "~");
    size_t out = 777;
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_feature_index(m, probe, &out, E));
    if (nl > 1) {
      probe[nl - 1] = '\0';
      size_t found = 0;
      int32_t rc = tt_feature_index(m, probe, &found, NULL);
      /* a prefix may itself be another feature's name; then it must map back to that name */
      if (rc == TT_OK) {
        const char *other = NULL;
        CHECK_OK(tt_feature_name(m, found, &other, E));
        CHECK(other && strcmp(other, probe) == 0, "%s: prefix lookup inconsistent", rm->name);
      } else {
        CHECK(rc == TT_ERR_NOT_FOUND, "%s: prefix lookup returned %s", rm->name, tt_status_str(rc));
      }
    }
    CHECK(out == 777, "%s: NOT_FOUND wrote *out", rm->name);
    free(probe);
  }
  {
    const char *s = (const char *)"untouched";
    size_t idx = 777;
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_feature_name(m, nf, &s, E));
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_feature_name(m, SIZE_MAX, &s, E));
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_feature_index(m, "", &idx, E));
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_feature_index(m, "no such feature \xe2\x9c\x97", &idx, E));
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_class_label(m, 2, &s, E));
    EXPECT_FAIL(TT_ERR_NOT_FOUND, tt_class_label(m, SIZE_MAX, &s, E));
    EXPECT_FAIL(TT_ERR_NULL_ARG, tt_feature_name(m, 0, NULL, E));
    EXPECT_FAIL(TT_ERR_NULL_ARG, tt_feature_index(m, NULL, &idx, E));
    EXPECT_FAIL(TT_ERR_NULL_ARG, tt_feature_index(m, in.names[0], NULL, E));
    EXPECT_FAIL(TT_ERR_NULL_ARG, tt_class_label(m, 0, NULL, E));
    CHECK(strcmp(s, "untouched") == 0 && idx == 777, "%s: failing metadata call wrote *out", rm->name);
  }

  /* Class labels: two distinct, non-empty strings. */
  const char *l0 = NULL, *l1 = NULL;
  CHECK_OK(tt_class_label(m, 0, &l0, E));
  CHECK_OK(tt_class_label(m, 1, &l1, E));
  CHECK(l0 && l1 && *l0 && *l1 && strcmp(l0, l1) != 0, "%s: class labels '%s' '%s'", rm->name, l0, l1);
  CHECK(tt_n_classes(m) == TT_N_CLASSES, "%s: n_classes", rm->name);

  /* Tree shape: a full binary tree that contains every golden leaf. */
  size_t nodes = tt_n_nodes(m), leaves = tt_n_leaves(m), depth = tt_max_depth(m);
  CHECK(nodes >= 1 && nodes % 2 == 1 && leaves == (nodes + 1) / 2, "%s: %zu nodes, %zu leaves",
        rm->name, nodes, leaves);
  CHECK(depth < leaves && (nodes == 1 || depth >= 1), "%s: depth %zu", rm->name, depth);
  int64_t max_leaf = -1;
  for (size_t r = 0; r < g.n_rows; r++)
    if (g.leaf_preorder[r] > max_leaf) max_leaf = g.leaf_preorder[r];
  CHECK(max_leaf >= 0 && (size_t)max_leaf < nodes, "%s: golden leaf %lld >= %zu nodes", rm->name,
        (long long)max_leaf, nodes);

  /* Strings owned by the model. */
  const char *ver = tt_model_version(m), *meta = tt_metadata_json(m);
  CHECK(ver != NULL, "%s: model version NULL", rm->name);
  CHECK(meta && meta[0] == '{' && meta[strlen(meta) - 1] == '}', "%s: metadata is not a JSON object", rm->name);

  /* Identity: CRC-32 as stored in the header (offset 32) and recomputed over all other bytes;
   * digest = SHA-256 of the file. */
  uint32_t stored = (uint32_t)file[32] | (uint32_t)file[33] << 8 | (uint32_t)file[34] << 16 |
                    (uint32_t)file[35] << 24;
  uint32_t crc = ttt_crc32(ttt_crc32(0, file, 32), file + 36, len - 36);
  CHECK(tt_model_crc32(m) == stored && stored == crc, "%s: crc32 0x%08x, stored 0x%08x, computed 0x%08x",
        rm->name, tt_model_crc32(m), stored, crc);
  uint8_t want[32], got[64];
  ttt_sha256(file, len, want);
  memset(got, PATTERN, sizeof got);
  CHECK_OK(tt_model_digest(m, got, sizeof got, E));
  CHECK(memcmp(got, want, 32) == 0, "%s: digest is not the SHA-256 of the file", rm->name);
  CHECK(all_pattern(got + 32, 32), "%s: digest wrote past 32 bytes", rm->name);
  memset(got, PATTERN, sizeof got);
  EXPECT_FAIL(TT_ERR_LENGTH, tt_model_digest(m, got, TT_DIGEST_LEN - 1, E));
  EXPECT_FAIL(TT_ERR_LENGTH, tt_model_digest(m, got, 0, E));
  EXPECT_FAIL(TT_ERR_NULL_ARG, tt_model_digest(m, NULL, TT_DIGEST_LEN, E));
  CHECK(all_pattern(got, sizeof got), "%s: failing digest wrote", rm->name);
  CHECK_OK(tt_model_digest(m, got, TT_DIGEST_LEN, E));
  CHECK(memcmp(got, want, 32) == 0, "%s: second digest call differs", rm->name);

done:
  tt_free(m);
  if (have_in) ttt_input_free(&in);
  if (have_g) ttt_golden_free(&g);
  free(file);
  free(path);
}

static long root_column(const char *model_name) {
  char *path = ttt_concat(ttt_reference_dir(), "/golden/edge_values__", model_name, ".csv", (char *)NULL);
  size_t len;
  char *text = ttt_read_data(path, &len);
  free(path);
  if (!text) return -1;
  long col = -1;
  char *nl = memchr(text, '\n', len);
  if (nl && nl + 1 < text + len) {
    char *comma = memchr(nl + 1, ',', (size_t)(text + len - nl - 1));
    if (comma) col = strtol(comma + 1, NULL, 10);
  }
  free(text);
  return col;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL_NAME SIGNED_MODEL KEY TMPDIR\n", argv[0]);
    return 2;
  }
  const char *model_name = argv[1], *signed_path = argv[2], *key = argv[3];
  g_tmpdir = argv[4];
  if (mkdir(g_tmpdir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "cannot create %s: %s\n", g_tmpdir, strerror(errno));
    return 2;
  }
  ttt_manifest man;
  if (ttt_manifest_load(&man)) return 2;
  long mi = ttt_manifest_find(&man, model_name);
  if (mi < 0) {
    fprintf(stderr, "model %s is not in the manifest\n", model_name);
    return 2;
  }

  test_versions_and_status();
  test_null_model_getters();

  char *path = ttt_model_path(model_name);
  size_t len;
  unsigned char *file = ttt_read_file(path, &len);
  if (!file) return 2;
  test_load_errors(path, file, len);

  ctx c = {0};
  ttt_input in;
  ttt_golden g;
  tt_model *m = NULL;
  CHECK_OK(tt_load(path, TT_LOAD_DEFAULT, &m, E));
  if (!m || ttt_input_load(man.models[mi].dataset, 0, &in) || ttt_golden_load(model_name, 0, &g))
    return 2;
  for (size_t r = 0; r < 16; r++)
    if (!g.has_proba[r]) {
      fprintf(stderr, "%s: golden rows 0..15 need probabilities for these tests\n", model_name);
      return 2;
    }
  c.m = m;
  c.in = &in;
  c.g = &g;
  c.nf = tt_n_features(m);
  c.root_col = root_column(model_name);
  CHECK(c.root_col >= 0 && (size_t)c.root_col < c.nf && c.nf == in.n_cols && c.nf <= 512,
        "root column %ld, n_features %zu", c.root_col, c.nf);
  if (c.root_col < 0 || (size_t)c.root_col >= c.nf || c.nf != in.n_cols || c.nf > 512) return 1;

  test_signatures(m, signed_path, key);
  for (size_t i = 0; i < N_ENTRIES; i++) {
    test_predict_args(&c, &ENTRIES[i]);
    test_input_values(&c, &ENTRIES[i]);
  }
  test_edge_values(&c, model_name);
  for (size_t i = 0; i < man.n; i++) test_metadata(&man.models[i]);

  tt_free(m);
  ttt_input_free(&in);
  ttt_golden_free(&g);
  free(file);
  free(path);
  ttt_manifest_free(&man);
  printf("api_errors: %zu checks, %zu failures\n", g_checks, g_failures);
  return g_failures == 0 && g_checks > 0 ? 0 : 1;
}
