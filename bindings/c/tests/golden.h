/*
 * Test support shared by the C tests and the C++ (gtest) tests: the reference-model manifest,
 * the reference inputs and the golden outputs, plus small helpers (file I/O, CRC-32, SHA-256).
 *
 * Locations (each may be overridden by an environment variable):
 *   TT_REPO_DIR       the repository root (compiled in by CMake)
 *   TT_REFERENCE_DIR  golden data, default <repo>/tests/data/reference (the bundled fixtures)
 *   TT_MODELS_DIR     compiled reference models <name>.ttm, default <repo>/target/reference-models
 *
 * Every loader prints a diagnostic to stderr and returns -1 on any failure; nothing here
 * exits or skips, so missing data fails the calling test.
 */
#ifndef TT_TEST_GOLDEN_H
#define TT_TEST_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttt_ref_model {
  char *name;    /* e.g. "mushroom_gini_d5_lgk12" */
  char *dataset; /* e.g. "mushroom" */
} ttt_ref_model;

typedef struct ttt_manifest {
  size_t n;
  ttt_ref_model *models;
} ttt_manifest;

/* The reference input matrix of a dataset, in both encodings of the C ABI. */
typedef struct ttt_input {
  size_t n_rows, n_cols;
  char **names;     /* n_cols feature names from the header (model feature-index order) */
  int64_t *row_ids; /* first CSV column */
  int8_t *x8;       /* n_rows * n_cols, row-major: 0, 1, -1 = missing */
  double *x64;      /* n_rows * n_cols, row-major: 0.0, 1.0, NaN = missing */
} ttt_input;

/* The golden outputs of a model on one input. */
typedef struct ttt_golden {
  size_t n_rows;
  int64_t *row_ids;
  int32_t *y_true;
  int32_t *pred;
  double *p0, *p1;          /* parsed with strtod from Python repr; only where has_proba */
  unsigned char *has_proba; /* 0 where the golden file leaves p0/p1 empty */
  int64_t *leaf_preorder;
} ttt_golden;

const char *ttt_repo_dir(void);
const char *ttt_reference_dir(void);
const char *ttt_models_dir(void);

/* tests/reference_models.tsv (tab separated, '#' comments). */
int ttt_manifest_load(ttt_manifest *out);
void ttt_manifest_free(ttt_manifest *m);
/* Index of the model called `name` in the manifest, or -1. */
long ttt_manifest_find(const ttt_manifest *m, const char *name);

/* <models dir>/<name>.ttm, malloc'd. */
char *ttt_model_path(const char *name);

/* inputs/<dataset>_X.csv or inputs/<dataset>_X_missing.csv */
int ttt_input_load(const char *dataset, int missing, ttt_input *out);
void ttt_input_free(ttt_input *in);

/* golden/<model>__X.csv or golden/<model>__X_missing.csv */
int ttt_golden_load(const char *model, int missing, ttt_golden *out);
void ttt_golden_free(ttt_golden *g);

/* Whole file into a malloc'd buffer (8-aligned by malloc); NULL on failure. */
unsigned char *ttt_read_file(const char *path, size_t *len);
int ttt_write_file(const char *path, const void *data, size_t len);

/* A reference data file as NUL-terminated text (*len excludes the NUL): `path` itself, or,
 * when only `path`.gz exists, its decompressed contents (the repository stores the large CSVs
 * gzipped; a TT_REFERENCE_DIR may hold them plain). NULL on failure. */
char *ttt_read_data(const char *path, size_t *len);

/* malloc'd concatenation of NUL-terminated strings, terminated by a NULL argument. */
char *ttt_concat(const char *first, ...);

/* Bitwise equality of two doubles (distinguishes -0.0/0.0 and NaN payloads). */
int ttt_same_double(double a, double b);

/* CRC-32 (IEEE 802.3, as zlib's crc32) and SHA-256, for independent checks of the model
 * identity functions. */
uint32_t ttt_crc32(uint32_t crc, const void *data, size_t len);
void ttt_sha256(const void *data, size_t len, uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif
