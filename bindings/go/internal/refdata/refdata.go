// Package refdata finds the reference fixtures the tests compare against and reads them,
// whether a file is stored gzip-compressed (X.csv.gz, as bundled in the repository under
// tests/data/reference) or plain (X.csv, the reference's original layout, which a directory
// given in TT_REFERENCE_DIR may have). Callers always name the plain file.
package refdata

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is $TT_REFERENCE_DIR, else the bundled fixtures under repoRoot.
func Dir(repoRoot string) string {
	if d := os.Getenv("TT_REFERENCE_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "tests", "data", "reference")
}

// Open returns the uncompressed contents of dir/rel (rel is slash-separated): the file itself,
// or, when only dir/rel.gz exists, its decompressed stream (the checksum is verified at EOF).
func Open(dir, rel string) (io.ReadCloser, error) {
	path := filepath.Join(dir, filepath.FromSlash(rel))
	f, err := os.Open(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	f, gzErr := os.Open(path + ".gz")
	if gzErr != nil {
		return nil, fmt.Errorf("reference file %s (nor .gz): %w", path, err)
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s.gz: %w", path, err)
	}
	return gzFile{z, f}, nil
}

type gzFile struct {
	*gzip.Reader
	file *os.File
}

func (g gzFile) Close() error { return errors.Join(g.Reader.Close(), g.file.Close()) }

// ReadFile returns all of Open(dir, rel).
func ReadFile(dir, rel string) ([]byte, error) {
	r, err := Open(dir, rel)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rel), err)
	}
	return b, nil
}
