package modelfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// TestOpen: only regular files are opened; FIFOs, devices, directories and symlinks leading
// out of the root are refused without blocking; sizes are capped.
func TestOpen(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(dir, name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	regular := write(root, "m.ttm", 100)
	write(outside, "x.ttm", 100)
	fifo := filepath.Join(root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(outside, "x.ttm"), filepath.Join(root, "out"))
	os.Symlink("m.ttm", filepath.Join(root, "in"))
	os.Symlink(fifo, filepath.Join(root, "tofifo"))
	os.Symlink("nowhere", filepath.Join(root, "dangling"))
	p := Policy{Root: root}
	for _, c := range []struct {
		path, reason string
	}{
		{regular, ""},
		{filepath.Join(root, "in"), ""},
		{fifo, ReasonNotRegular},
		{filepath.Join(root, "tofifo"), ReasonNotRegular},
		{"/dev/zero", ReasonNotRegular},
		{root, ReasonNotRegular},
		{filepath.Join(root, "out"), ReasonOutsideRoot},
		{filepath.Join(root, "dangling"), ReasonMissing},
		{filepath.Join(root, "absent"), ReasonMissing},
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			f, st, err := p.Open(c.path, 1000)
			if got := reason(err); got != c.reason || (c.reason == "" && (err != nil || st.Size != 100)) {
				t.Errorf("%s: reason %q (%v), want %q", c.path, got, err, c.reason)
			}
			if f != nil {
				f.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Open blocked", c.path)
		}
	}
	if _, _, err := p.Open(regular, 99); reason(err) != ReasonTooLarge {
		t.Errorf("over the size cap: %v", err)
	}
	if _, _, err := (Policy{Root: root, FollowExternal: true}).Open(filepath.Join(root, "out"), 1000); err != nil {
		t.Errorf("external symlink allowed by policy: %v", err)
	}
	if b, _, err := p.ReadFile(regular, 1000); err != nil || len(b) != 100 {
		t.Errorf("ReadFile: %d bytes, %v", len(b), err)
	}
	// Directories: real ones and symlinks to them inside the root.
	os.Mkdir(filepath.Join(root, "v1"), 0o755)
	os.Symlink("v1", filepath.Join(root, "v2"))
	os.Symlink(outside, filepath.Join(root, "v3"))
	for name, want := range map[string]string{"v1": "", "v2": "", "v3": ReasonOutsideRoot, "m.ttm": ReasonNotADirectory} {
		if _, err := p.Dir(filepath.Join(root, name)); reason(err) != want {
			t.Errorf("Dir(%s): %v, want %q", name, err, want)
		}
	}
}

// TestReadKey: trailing newlines go, an empty key or a FIFO is an error.
func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "k")
	os.WriteFile(k, []byte("secret\r\n\n"), 0o600)
	if b, err := ReadKey(k); err != nil || string(b) != "secret" {
		t.Fatalf("%q %v", b, err)
	}
	os.WriteFile(k, []byte("\n"), 0o600)
	if _, err := ReadKey(k); err == nil {
		t.Fatal("empty key accepted")
	}
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o600)
	if _, err := ReadKey(fifo); reason(err) != ReasonNotRegular {
		t.Fatalf("FIFO key file: %v", err)
	}
}
