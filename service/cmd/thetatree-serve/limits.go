package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// budget counts the bytes of request memory in use (bodies and what parsing them
// allocates) against MAX_INFLIGHT_BYTES. Requests reserve before they allocate; what does
// not fit is refused with 503 instead of growing the heap without bound.
type budget struct {
	limit int64
	used  atomic.Int64
}

func (b *budget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *budget) release(n int64) { b.used.Add(-n) }

// lease is one request's share of the budget, returned in full by done.
type lease struct {
	b *budget
	n int64
}

func (l *lease) grow(n int64) bool {
	if n <= 0 {
		return true
	}
	if !l.b.reserve(n) {
		return false
	}
	l.n += n
	return true
}

func (l *lease) done() {
	l.b.release(l.n)
	l.n = 0
}

// logLimiter lets through at most perSecond log lines per second and counts the rest, so a
// flood of bad requests cannot flood the log; the next line that passes says how many were
// suppressed.
type logLimiter struct {
	perSecond  int
	mu         sync.Mutex
	second     int64
	n          int
	suppressed int
}

// allow reports whether to log now, and how many lines were suppressed before this one.
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second {
		l.second, l.n = s, 0
	}
	if l.n >= l.perSecond {
		l.suppressed++
		return false, 0
	}
	l.n++
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
