/*
 * ttt_read_data, the reader every reference file goes through: a plain file and a gzipped one
 * read back exactly by their plain name; a truncated stream, a bad CRC, a ".gz" that is not
 * gzip and a missing file fail (NULL) instead of returning partial or wrong text.
 *
 * usage: read_data TMPDIR (created)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "golden.h"

static int failures;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
      failures++;                                          \
    }                                                      \
  } while (0)

/* Gzip `text` into `path` with zlib; returns the compressed length. */
static size_t write_gz(const char *path, const char *text) {
  gzFile g = gzopen(path, "wb9");
  if (!g || gzwrite(g, text, (unsigned)strlen(text)) != (int)strlen(text) || gzclose(g) != Z_OK) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  struct stat st;
  stat(path, &st);
  return (size_t)st.st_size;
}

static char *path_in(const char *dir, const char *name) {
  return ttt_concat(dir, "/", name, (char *)NULL);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  mkdir(dir, 0755);
  char text[4096] = "row,a,b\n";
  for (int r = 0; r < 300; r++) snprintf(text + strlen(text), 16, "%d,1,0\n", r);

  char *plain = path_in(dir, "plain.csv"), *packed = path_in(dir, "packed.csv");
  char *packed_gz = ttt_concat(packed, ".gz", (char *)NULL);
  CHECK(ttt_write_file(plain, text, strlen(text)) == 0, "write %s", plain);
  size_t gz_len = write_gz(packed_gz, text);
  const char *readable[] = {plain, packed};
  for (int i = 0; i < 2; i++) {
    size_t len = 0;
    char *got = ttt_read_data(readable[i], &len);
    CHECK(got && len == strlen(text) && memcmp(got, text, len) == 0 && got[len] == '\0',
          "%s does not read back", readable[i]);
    free(got);
  }

  /* Broken files, each named by its plain name. */
  size_t len;
  unsigned char *bytes = ttt_read_file(packed_gz, &len);
  CHECK(bytes && len == gz_len, "re-read %s", packed_gz);
  char *cut = path_in(dir, "cut.csv"), *cut_gz = ttt_concat(cut, ".gz", (char *)NULL);
  char *crc = path_in(dir, "crc.csv"), *crc_gz = ttt_concat(crc, ".gz", (char *)NULL);
  char *text_gz_plain = path_in(dir, "text.csv");
  char *text_gz = ttt_concat(text_gz_plain, ".gz", (char *)NULL);
  ttt_write_file(cut_gz, bytes, len / 2);
  bytes[len - 6] ^= 1; /* inside the trailer's CRC-32 */
  ttt_write_file(crc_gz, bytes, len);
  ttt_write_file(text_gz, "row,a\n0,1\n", 10);
  const char *broken[] = {cut, crc, text_gz_plain};
  for (int i = 0; i < 3; i++) {
    char *got = ttt_read_data(broken[i], &len);
    CHECK(got == NULL, "%s: a broken .gz was accepted", broken[i]);
    free(got);
  }
  char *none = path_in(dir, "none.csv");
  char *got = ttt_read_data(none, &len);
  CHECK(got == NULL, "a missing file was read");
  free(got);

  free(bytes);
  free(plain);
  free(packed);
  free(packed_gz);
  free(cut);
  free(cut_gz);
  free(crc);
  free(crc_gz);
  free(text_gz_plain);
  free(text_gz);
  free(none);
  printf("read_data: 6 cases, %d failures\n", failures);
  return failures ? 1 : 0;
}
