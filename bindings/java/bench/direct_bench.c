/* Per-call cost of tt_predict_proba on one row, called directly from C (the baseline for the
 * Java binding's overhead). Usage: direct_bench MODEL.ttm INPUT.csv [CALLS] [RUNS]
 * Uses the first data row of INPUT.csv (header + row id column skipped; empty cell = -1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thetatree.h"

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.ttm INPUT.csv [CALLS] [RUNS]\n", argv[0]);
        return 2;
    }
    long calls = argc > 3 ? atol(argv[3]) : 1000000;
    int runs = argc > 4 ? atoi(argv[4]) : 7;
    tt_model *m = NULL;
    tt_error e;
    if (tt_load(argv[1], TT_LOAD_DEFAULT, &m, &e) != TT_OK) {
        fprintf(stderr, "load: %s\n", e.message);
        return 1;
    }
    size_t nf = tt_n_features(m);
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    static char line[1 << 20];
    if (!fgets(line, sizeof line, f) || !fgets(line, sizeof line, f)) {
        fprintf(stderr, "short input\n");
        return 1;
    }
    fclose(f);
    int8_t *row = calloc(nf, 1);
    char *p = strchr(line, ',');
    for (size_t c = 0; c < nf && p; c++) {
        p++;
        row[c] = (*p == ',' || *p == '\n' || *p == '\0') ? -1 : (int8_t)atoi(p);
        p = strchr(p, ',');
    }
    double out[2], sink = 0;
    double *per = calloc((size_t)runs, sizeof *per);
    for (long i = 0; i < calls; i++) { /* warm-up */
        if (tt_predict_proba(m, row, 1, nf, out, 2, &e) != TT_OK) {
            fprintf(stderr, "predict: %s\n", e.message);
            return 1;
        }
        sink += out[1];
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) {
            if (tt_predict_proba(m, row, 1, nf, out, 2, &e) != TT_OK) {
                return 1;
            }
            sink += out[1];
        }
        per[r] = (now_ns() - t0) / (double)calls;
    }
    qsort(per, (size_t)runs, sizeof *per, cmp);
    printf("C direct tt_predict_proba, 1 row x %zu features: median %.1f ns/call (min %.1f, max %.1f; %d runs x %ld calls; sink %g)\n",
           nf, per[runs / 2], per[0], per[runs - 1], runs, calls, sink);
    tt_free(m);
    free(row);
    free(per);
    return 0;
}
