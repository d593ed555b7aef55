/* The C side of benches/compare: thetatree through its C ABI (batch, wide batch, single call)
 * and the gcc -O3 if/else function generated from the same tree, on the same rows.
 *
 *   harness MODEL.ttm ROWS.i8 N_ROWS N_COLS IFELSE_INDEX    -> one JSON object on stdout
 *
 * Times are the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), medians over repeats. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thetatree.h"

typedef void (*ifelse_fn)(const signed char *, double *);
extern ifelse_fn ifelse_table[];

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define REPEATS 15
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void die(const char *what, int rc, const tt_error *e) {
    fprintf(stderr, "harness: %s failed: %d %s\n", what, rc, e ? e->message : "");
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: harness MODEL.ttm ROWS.i8 N_ROWS N_COLS IFELSE_INDEX\n");
        return 2;
    }
    size_t n = strtoull(argv[3], NULL, 10), nf = strtoull(argv[4], NULL, 10);
    int k = atoi(argv[5]);
    ifelse_fn volatile ifelse = ifelse_table[k];
    int8_t *x = malloc(n * nf);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(x, 1, n * nf, f) != n * nf) {
        fprintf(stderr, "harness: cannot read %s\n", argv[2]);
        return 1;
    }
    fclose(f);
    tt_error err;
    tt_model *m = NULL;
    int rc = tt_load(argv[1], TT_LOAD_DEFAULT, &m, &err);
    if (rc) die("tt_load", rc, &err);
    double *out = malloc(2 * n * sizeof *out), *ref = malloc(2 * n * sizeof *ref);
    double t[REPEATS];

    /* thetatree batch: all rows in one call. */
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now_ns();
        rc = tt_predict_proba(m, x, n, nf, out, 2 * n, &err);
        t[r] = (now_ns() - t0) / (double)n;
        if (rc) die("tt_predict_proba", rc, &err);
    }
    double tt_batch = median(t, REPEATS);

    /* thetatree single-row calls, rows cycling. */
    size_t calls = n < 4096 ? n : 4096;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < calls; i++) {
            rc |= tt_predict_proba(m, x + i * nf, 1, nf, out + 2 * i, 2, NULL);
        }
        t[r] = (now_ns() - t0) / (double)calls;
    }
    if (rc) die("tt_predict_proba (1 row)", rc, NULL);
    double tt_1 = median(t, REPEATS);

    /* Wide layout: CSR for one-hot-wide models, bit-packed rows otherwise. */
    const char *wide_kind;
    double wide = 0;
    if (nf > 1024) {
        wide_kind = "CSR";
        size_t *off = malloc((n + 1) * sizeof *off), nnz = 0;
        for (size_t i = 0; i < n * nf; i++) nnz += x[i] == 1;
        uint32_t *idx = malloc((nnz ? nnz : 1) * sizeof *idx);
        nnz = 0;
        for (size_t r = 0; r < n; r++) {
            off[r] = nnz;
            for (size_t j = 0; j < nf; j++)
                if (x[r * nf + j] == 1) idx[nnz++] = (uint32_t)j;
        }
        off[n] = nnz;
        for (int r = 0; r < REPEATS; r++) {
            double t0 = now_ns();
            rc = tt_predict_proba_csr(m, off, idx, nnz, n, nf, ref, 2 * n, &err);
            t[r] = (now_ns() - t0) / (double)n;
            if (rc) die("tt_predict_proba_csr", rc, &err);
        }
        free(off);
        free(idx);
    } else {
        wide_kind = "bit-packed";
        size_t wpr = (nf + 63) / 64;
        uint64_t *bits = calloc(n * wpr, sizeof *bits);
        for (size_t r = 0; r < n; r++)
            for (size_t j = 0; j < nf; j++)
                if (x[r * nf + j] == 1) bits[r * wpr + j / 64] |= (uint64_t)1 << (j % 64);
        for (int r = 0; r < REPEATS; r++) {
            double t0 = now_ns();
            rc = tt_predict_proba_bits(m, bits, NULL, n, nf, ref, 2 * n, &err);
            t[r] = (now_ns() - t0) / (double)n;
            if (rc) die("tt_predict_proba_bits", rc, &err);
        }
        free(bits);
    }
    wide = median(t, REPEATS);
    rc = tt_predict_proba(m, x, n, nf, out, 2 * n, &err);
    int wide_same = memcmp(out, ref, 2 * n * sizeof *out) == 0;

    /* Generated if/else: batch loop over rows; single row = one call per row, cycling. */
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < n; i++) ifelse(x + i * nf, ref + 2 * i);
        t[r] = (now_ns() - t0) / (double)n;
    }
    double ife_batch = median(t, REPEATS);
    double p[2], sink = 0;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < calls; i++) {
            ifelse(x + i * nf, p);
            sink += p[1];
        }
        t[r] = (now_ns() - t0) / (double)calls;
    }
    double ife_1 = median(t, REPEATS);
    int same = memcmp(out, ref, 2 * n * sizeof *out) == 0;

    printf("{\"tt_batch_ns\": %.3f, \"tt_1_ns\": %.3f, \"wide_batch_ns\": %.3f, \"wide_kind\": \"%s\", "
           "\"wide_parity\": \"%s\", \"ifelse_batch_ns\": %.3f, \"ifelse_1_ns\": %.3f, "
           "\"ifelse_parity\": \"%s\", \"sink\": %.1f}\n",
           tt_batch, tt_1, wide, wide_kind, wide_same ? "exact" : "DIFFERS", ife_batch, ife_1,
           same ? "exact" : "DIFFERS", sink);
    tt_free(m);
    free(x);
    free(out);
    free(ref);
    return 0;
}
