/* consumer MODEL.ttm: load a model through an installed thetatree and predict one all-absent
 * row. Prints `label L p0 P0 p1 P1` (the same line as consumer.cpp). */
#include <stdio.h>
#include <stdlib.h>
#include <thetatree.h>

int main(int argc, char **argv) {
  if (argc != 2 || tt_abi_version() != TT_ABI_VERSION) {
    fprintf(stderr, "usage: %s MODEL.ttm (or ABI mismatch)\n", argv[0]);
    return 2;
  }
  tt_model *m = NULL;
  tt_error e;
  if (tt_load(argv[1], TT_LOAD_DEFAULT, &m, &e) != TT_OK) {
    fprintf(stderr, "%s: %s\n", tt_status_str(e.code), e.message);
    return 1;
  }
  size_t nf = tt_n_features(m);
  int8_t *x = calloc(nf ? nf : 1, 1);
  int32_t label = -1;
  double p[2];
  if (!x || tt_predict(m, x, 1, nf, &label, 1, &e) != TT_OK ||
      tt_predict_proba(m, x, 1, nf, p, 2, &e) != TT_OK) {
    fprintf(stderr, "predict: %s\n", e.message);
    return 1;
  }
  printf("label %d p0 %.17g p1 %.17g\n", label, p[0], p[1]);
  free(x);
  tt_free(m);
  return 0;
}
