/*
 * predict_csv MODEL.ttm INPUT.csv
 *
 * Load a model and predict every row of a CSV whose header names the columns: columns that are
 * not model features are ignored, model features absent from the CSV are "missing". Cells are
 * 0, 1, or empty (missing). Prints `line,pred,label,p0,p1` per data row.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thetatree.h"

static int fail(const char *what, const tt_error *e) {
  fprintf(stderr, "%s: %s: %s\n", what, tt_status_str(e->code), e->message);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.ttm INPUT.csv\n", argv[0]);
    return 2;
  }
  tt_model *m = NULL;
  tt_error e;
  if (tt_load(argv[1], TT_LOAD_DEFAULT, &m, &e) != TT_OK) return fail(argv[1], &e);
  FILE *f = fopen(argv[2], "r");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  const char *labels[TT_N_CLASSES];
  for (size_t c = 0; c < TT_N_CLASSES; c++)
    if (tt_class_label(m, c, &labels[c], &e) != TT_OK) return fail("class label", &e);
  size_t nf = tt_n_features(m), n_csv = 0, line_no = 0, cap = 0;
  long *col_to_feature = NULL; /* CSV column -> feature index, or -1 */
  int8_t *x = malloc(nf ? nf : 1);
  char *line = NULL;
  printf("line,pred,label,p0,p1\n");
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\r\n")] = '\0';
    memset(x, -1, nf); /* missing unless the CSV has the column */
    size_t col = 0;
    for (char *cell = line, *next; cell; cell = next, col++) {
      next = strchr(cell, ',');
      if (next) *next++ = '\0';
      if (line_no == 0) { /* header: map names to feature indices */
        size_t idx;
        col_to_feature = realloc(col_to_feature, (col + 1) * sizeof *col_to_feature);
        col_to_feature[col] = tt_feature_index(m, cell, &idx, NULL) == TT_OK ? (long)idx : -1;
        n_csv = col + 1;
      } else if (col < n_csv && col_to_feature[col] >= 0) {
        x[col_to_feature[col]] = cell[0] == '\0' ? -1 : (int8_t)atoi(cell); /* library validates */
      }
    }
    if (line_no++ == 0) continue;
    int32_t pred;
    double p[TT_N_CLASSES];
    if (tt_predict(m, x, 1, nf, &pred, 1, &e) != TT_OK ||
        tt_predict_proba(m, x, 1, nf, p, TT_N_CLASSES, &e) != TT_OK) {
      fprintf(stderr, "line %zu: ", line_no);
      return fail("predict", &e);
    }
    printf("%zu,%d,%s,%.17g,%.17g\n", line_no - 1, pred, labels[pred], p[0], p[1]);
  }
  free(line);
  free(x);
  free(col_to_feature);
  fclose(f);
  tt_free(m);
  return 0;
}
