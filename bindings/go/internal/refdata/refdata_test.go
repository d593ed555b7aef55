package refdata

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadsPlainAndGzipByThePlainName(t *testing.T) {
	dir := t.TempDir()
	plain, packed := []byte("row,a\n0,1\n"), []byte("row,b\n0,0\n")
	write(t, filepath.Join(dir, "inputs", "p.csv"), plain)
	write(t, filepath.Join(dir, "inputs", "g.csv.gz"), gz(t, packed))
	for rel, want := range map[string][]byte{"inputs/p.csv": plain, "inputs/g.csv": packed} {
		got, err := ReadFile(dir, rel)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: got %q, %v; want %q", rel, got, err, want)
		}
	}
}

func TestReportsMissingAndCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(dir, "golden/none.csv"); err == nil || !strings.Contains(err.Error(), "none.csv (nor .gz)") {
		t.Fatalf("missing file: %v", err)
	}
	b := gz(t, bytes.Repeat([]byte("0,1,0\n"), 1000))
	write(t, filepath.Join(dir, "cut.csv.gz"), b[:len(b)/2])
	bad := append([]byte(nil), b...)
	bad[len(bad)-5] ^= 1 // inside the trailer's CRC-32
	write(t, filepath.Join(dir, "crc.csv.gz"), bad)
	write(t, filepath.Join(dir, "text.csv.gz"), []byte("not gzip"))
	for _, rel := range []string{"cut.csv", "crc.csv", "text.csv"} {
		if _, err := ReadFile(dir, rel); err == nil || !strings.Contains(err.Error(), rel) {
			t.Fatalf("%s: got %v, want an error naming the file", rel, err)
		}
	}
}

func TestDirHonoursTheOverride(t *testing.T) {
	t.Setenv("TT_REFERENCE_DIR", "/elsewhere")
	if got := Dir("/repo"); got != "/elsewhere" {
		t.Fatalf("Dir = %s", got)
	}
	t.Setenv("TT_REFERENCE_DIR", "")
	if got := Dir("/repo"); got != filepath.Join("/repo", "tests", "data", "reference") {
		t.Fatalf("Dir = %s", got)
	}
}
