/* Test support: reference manifest, inputs and golden outputs. See golden.h. */
#define _POSIX_C_SOURCE 200809L
#include "golden.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#ifndef TT_REPO_DIR
#error "TT_REPO_DIR must be defined by the build (the repository root)"
#endif

static const char *env_or(const char *var, const char *fallback) {
  const char *v = getenv(var);
  return (v && *v) ? v : fallback;
}

const char *ttt_repo_dir(void) { return env_or("TT_REPO_DIR", TT_REPO_DIR); }

const char *ttt_reference_dir(void) {
  static char *dflt;
  if (!dflt) dflt = ttt_concat(ttt_repo_dir(), "/tests/data/reference", (char *)NULL);
  return env_or("TT_REFERENCE_DIR", dflt);
}

const char *ttt_models_dir(void) {
  static char *dflt;
  if (!dflt) dflt = ttt_concat(ttt_repo_dir(), "/target/reference-models", (char *)NULL);
  return env_or("TT_MODELS_DIR", dflt);
}

char *ttt_concat(const char *first, ...) {
  size_t len = 0;
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *)) len += strlen(s);
  va_end(ap);
  char *out = malloc(len + 1);
  if (!out) abort();
  char *p = out;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *)) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    p += n;
  }
  va_end(ap);
  *p = '\0';
  return out;
}

char *ttt_model_path(const char *name) {
  return ttt_concat(ttt_models_dir(), "/", name, ".ttm", (char *)NULL);
}

unsigned char *ttt_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) abort();
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) abort();
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "cannot read %s\n", path);
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* `path`, or `path`.gz when only that exists. zlib's gzread passes a file that is not gzip
 * through unchanged, so one loop reads both. */
char *ttt_read_data(const char *path, size_t *len) {
  char *gz = ttt_concat(path, ".gz", (char *)NULL);
  const char *name = access(path, F_OK) == 0 ? path : gz;
  gzFile f = gzopen(name, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s (nor %s): %s\n", path, gz, strerror(errno));
    free(gz);
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  int got;
  do {
    if (cap - n < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) abort();
    }
    size_t room = cap - n - 1; /* keep one byte for the NUL */
    got = gzread(f, buf + n, room < INT_MAX ? (unsigned)room : (unsigned)INT_MAX);
    if (got > 0) n += (size_t)got;
  } while (got > 0);
  /* gzread fails on a bad CRC or length; gzclose reports a stream that ended early. The
   * message belongs to f: copy it before closing. */
  char why[160] = "truncated gzip stream";
  int errnum = Z_OK;
  if (got < 0) snprintf(why, sizeof why, "%s", gzerror(f, &errnum));
  /* A .gz that is not gzip at all would be passed through too: refuse it. */
  int not_gzip = got == 0 && name == gz && gzdirect(f);
  if (not_gzip) snprintf(why, sizeof why, "not a gzip file");
  int closed = gzclose(f);
  if (got < 0 || not_gzip || closed != Z_OK) {
    fprintf(stderr, "cannot read %s: %s\n", name, why);
    free(buf);
    free(gz);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  free(gz);
  return buf;
}

int ttt_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
    return -1;
  }
  int ok = fwrite(data, 1, len, f) == len;
  ok &= fclose(f) == 0;
  if (!ok) fprintf(stderr, "cannot write %s\n", path);
  return ok ? 0 : -1;
}

int ttt_same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ---- a minimal CSV reader: no quoting (the reference files use none) ---- */

typedef struct csv {
  char *text;          /* whole file, modified in place */
  size_t n_lines;      /* data lines (header excluded) */
  char **lines;        /* start of each data line */
  size_t n_header;     /* header fields */
  char **header;       /* header fields */
} csv;

static void csv_free(csv *c) {
  free(c->text);
  free(c->lines);
  free(c->header);
  memset(c, 0, sizeof *c);
}

/* Split `line` (NUL-terminated) on commas in place; returns the field count, fills up to max. */
static size_t split_fields(char *line, char **fields, size_t max) {
  size_t n = 0;
  char *p = line;
  for (;;) {
    if (n < max) fields[n] = p;
    n++;
    char *comma = strchr(p, ',');
    if (!comma) break;
    *comma = '\0';
    p = comma + 1;
  }
  return n;
}

static int csv_load(const char *path, csv *c) {
  memset(c, 0, sizeof *c);
  size_t len;
  c->text = ttt_read_data(path, &len);
  if (!c->text) return -1;
  if (memchr(c->text, '\0', len)) {
    fprintf(stderr, "%s: NUL byte in CSV\n", path);
    csv_free(c);
    return -1;
  }
  /* Count lines, then cut them. */
  size_t cap = 1;
  for (size_t i = 0; i < len; i++) cap += c->text[i] == '\n';
  char **all = malloc(cap * sizeof *all);
  if (!all) abort();
  size_t n = 0;
  char *p = c->text;
  while (*p) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = '\0';
    size_t l = strlen(p);
    if (l && p[l - 1] == '\r') p[l - 1] = '\0';
    all[n++] = p;
    if (!nl) break;
    p = nl + 1;
  }
  while (n && all[n - 1][0] == '\0') n--; /* trailing newline(s) */
  if (n == 0) {
    fprintf(stderr, "%s: empty CSV\n", path);
    free(all);
    csv_free(c);
    return -1;
  }
  size_t nh = split_fields(all[0], NULL, 0);
  /* split_fields with max=0 only counted: it also cut the header in place. Rebuild fields. */
  c->header = malloc(nh * sizeof *c->header);
  if (!c->header) abort();
  char *f = all[0];
  for (size_t i = 0; i < nh; i++) {
    c->header[i] = f;
    f += strlen(f) + 1;
  }
  c->n_header = nh;
  c->lines = malloc((n ? n : 1) * sizeof *c->lines);
  if (!c->lines) abort();
  for (size_t i = 1; i < n; i++) c->lines[i - 1] = all[i];
  c->n_lines = n - 1;
  free(all);
  return 0;
}

static int parse_i64(const char *s, int64_t *out) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int parse_f64(const char *s, double *out) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

/* ---- manifest ---- */

int ttt_manifest_load(ttt_manifest *out) {
  memset(out, 0, sizeof *out);
  char *path = ttt_concat(ttt_repo_dir(), "/tests/reference_models.tsv", (char *)NULL);
  size_t len;
  unsigned char *raw = ttt_read_file(path, &len);
  if (!raw) {
    free(path);
    return -1;
  }
  char *text = realloc(raw, len + 1);
  if (!text) abort();
  text[len] = '\0';
  size_t cap = 1;
  for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
  out->models = calloc(cap, sizeof *out->models);
  if (!out->models) abort();
  int rc = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[--l] = '\0';
    if (l == 0 || line[0] == '#') continue;
    char *f[4];
    char *s2 = NULL;
    size_t k = 0;
    for (char *t = strtok_r(line, "\t", &s2); t && k < 4; t = strtok_r(NULL, "\t", &s2)) f[k++] = t;
    if (k != 4) {
      fprintf(stderr, "%s: malformed line (want 4 tab-separated fields)\n", path);
      rc = -1;
      break;
    }
    out->models[out->n].name = strdup(f[0]);
    out->models[out->n].dataset = strdup(f[3]);
    out->n++;
  }
  free(text);
  if (rc == 0 && out->n == 0) {
    fprintf(stderr, "%s: no models listed\n", path);
    rc = -1;
  }
  free(path);
  if (rc) ttt_manifest_free(out);
  return rc;
}

void ttt_manifest_free(ttt_manifest *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->models[i].name);
    free(m->models[i].dataset);
  }
  free(m->models);
  memset(m, 0, sizeof *m);
}

long ttt_manifest_find(const ttt_manifest *m, const char *name) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->models[i].name, name) == 0) return (long)i;
  return -1;
}

/* ---- inputs ---- */

int ttt_input_load(const char *dataset, int missing, ttt_input *out) {
  memset(out, 0, sizeof *out);
  char *path = ttt_concat(ttt_reference_dir(), "/inputs/", dataset,
                          missing ? "_X_missing.csv" : "_X.csv", (char *)NULL);
  csv c;
  if (csv_load(path, &c)) {
    free(path);
    return -1;
  }
  int rc = -1;
  if (c.n_header < 2 || strcmp(c.header[0], "row") != 0) {
    fprintf(stderr, "%s: header must be row,<features...>\n", path);
    goto done;
  }
  size_t nc = c.n_header - 1, nr = c.n_lines;
  out->n_rows = nr;
  out->n_cols = nc;
  out->names = calloc(nc, sizeof *out->names);
  out->row_ids = calloc(nr ? nr : 1, sizeof *out->row_ids);
  size_t cells = nr * nc > 0 ? nr * nc : 1;
  out->x8 = calloc(cells, sizeof *out->x8);
  out->x64 = calloc(cells, sizeof *out->x64);
  char **fields = malloc(c.n_header * sizeof *fields);
  if (!out->names || !out->row_ids || !out->x8 || !out->x64 || !fields) abort();
  for (size_t j = 0; j < nc; j++) out->names[j] = strdup(c.header[j + 1]);
  size_t n_missing = 0;
  for (size_t r = 0; r < nr; r++) {
    size_t nf = split_fields(c.lines[r], fields, c.n_header);
    if (nf != c.n_header || parse_i64(fields[0], &out->row_ids[r])) {
      fprintf(stderr, "%s: data line %zu: bad field count or row id\n", path, r + 1);
      free(fields);
      goto done;
    }
    for (size_t j = 0; j < nc; j++) {
      const char *v = fields[j + 1];
      size_t k = r * nc + j;
      if (strcmp(v, "0") == 0) {
        out->x8[k] = 0;
        out->x64[k] = 0.0;
      } else if (strcmp(v, "1") == 0) {
        out->x8[k] = 1;
        out->x64[k] = 1.0;
      } else if (missing && v[0] == '\0') {
        out->x8[k] = -1;
        out->x64[k] = NAN;
        n_missing++;
      } else {
        fprintf(stderr, "%s: data line %zu column %zu: unexpected cell '%s'\n", path, r + 1,
                j + 1, v);
        free(fields);
        goto done;
      }
    }
  }
  free(fields);
  if (missing && n_missing == 0) {
    fprintf(stderr, "%s: a _missing input without any missing cell\n", path);
    goto done;
  }
  rc = 0;
done:
  csv_free(&c);
  free(path);
  if (rc) ttt_input_free(out);
  return rc;
}

void ttt_input_free(ttt_input *in) {
  if (in->names)
    for (size_t j = 0; j < in->n_cols; j++) free(in->names[j]);
  free(in->names);
  free(in->row_ids);
  free(in->x8);
  free(in->x64);
  memset(in, 0, sizeof *in);
}

/* ---- golden outputs ---- */

static const char *const GOLDEN_HEADER[] = {"row", "y_true", "pred", "p0", "p1", "leaf_preorder"};

int ttt_golden_load(const char *model, int missing, ttt_golden *out) {
  memset(out, 0, sizeof *out);
  char *path = ttt_concat(ttt_reference_dir(), "/golden/", model,
                          missing ? "__X_missing.csv" : "__X.csv", (char *)NULL);
  csv c;
  if (csv_load(path, &c)) {
    free(path);
    return -1;
  }
  int rc = -1;
  if (c.n_header != 6) {
    fprintf(stderr, "%s: expected 6 columns\n", path);
    goto done;
  }
  for (size_t j = 0; j < 6; j++)
    if (strcmp(c.header[j], GOLDEN_HEADER[j]) != 0) {
      fprintf(stderr, "%s: header column %zu is '%s', expected '%s'\n", path, j, c.header[j],
              GOLDEN_HEADER[j]);
      goto done;
    }
  size_t n = c.n_lines;
  out->n_rows = n;
  size_t a = n ? n : 1;
  out->row_ids = calloc(a, sizeof *out->row_ids);
  out->y_true = calloc(a, sizeof *out->y_true);
  out->pred = calloc(a, sizeof *out->pred);
  out->p0 = calloc(a, sizeof *out->p0);
  out->p1 = calloc(a, sizeof *out->p1);
  out->has_proba = calloc(a, 1);
  out->leaf_preorder = calloc(a, sizeof *out->leaf_preorder);
  if (!out->row_ids || !out->y_true || !out->pred || !out->p0 || !out->p1 || !out->has_proba ||
      !out->leaf_preorder)
    abort();
  for (size_t r = 0; r < n; r++) {
    char *f[6];
    int64_t yt, pr;
    if (split_fields(c.lines[r], f, 6) != 6 || parse_i64(f[0], &out->row_ids[r]) ||
        parse_i64(f[1], &yt) || parse_i64(f[2], &pr) || parse_i64(f[5], &out->leaf_preorder[r]) ||
        (yt != 0 && yt != 1) || (pr != 0 && pr != 1)) {
      fprintf(stderr, "%s: data line %zu is malformed\n", path, r + 1);
      goto done;
    }
    out->y_true[r] = (int32_t)yt;
    out->pred[r] = (int32_t)pr;
    if (f[3][0] == '\0' && f[4][0] == '\0') {
      out->has_proba[r] = 0;
    } else if (parse_f64(f[3], &out->p0[r]) == 0 && parse_f64(f[4], &out->p1[r]) == 0) {
      out->has_proba[r] = 1;
    } else {
      fprintf(stderr, "%s: data line %zu: bad p0/p1 '%s','%s'\n", path, r + 1, f[3], f[4]);
      goto done;
    }
  }
  rc = 0;
done:
  csv_free(&c);
  free(path);
  if (rc) ttt_golden_free(out);
  return rc;
}

void ttt_golden_free(ttt_golden *g) {
  free(g->row_ids);
  free(g->y_true);
  free(g->pred);
  free(g->p0);
  free(g->p1);
  free(g->has_proba);
  free(g->leaf_preorder);
  memset(g, 0, sizeof *g);
}

/* ---- CRC-32 (reflected, poly 0xEDB88320) ---- */

uint32_t ttt_crc32(uint32_t crc, const void *data, size_t len) {
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/* ---- SHA-256 (FIPS 180-4), compact and slow: fine for test-sized inputs ---- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *b) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 |
           (uint32_t)b[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = bb;
    bb = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += bb;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

void ttt_sha256(const void *data, size_t len, uint8_t out[32]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const unsigned char *p = data;
  size_t i = 0;
  for (; i + 64 <= len; i += 64) sha256_block(h, p + i);
  unsigned char tail[128] = {0};
  size_t rest = len - i;
  memcpy(tail, p + i, rest);
  tail[rest] = 0x80;
  size_t tl = rest + 9 <= 64 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int k = 0; k < 8; k++) tail[tl - 1 - k] = (unsigned char)(bits >> (8 * k));
  sha256_block(h, tail);
  if (tl == 128) sha256_block(h, tail + 64);
  for (int k = 0; k < 8; k++) {
    out[4 * k] = (uint8_t)(h[k] >> 24);
    out[4 * k + 1] = (uint8_t)(h[k] >> 16);
    out[4 * k + 2] = (uint8_t)(h[k] >> 8);
    out[4 * k + 3] = (uint8_t)h[k];
  }
}
