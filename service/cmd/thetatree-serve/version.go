package main

import (
	"strings"
)

// compareVersions orders version directory names "naturally": both names are split into runs
// of ASCII digits and runs of other bytes; digit runs compare numerically (so v9 < v10 and
// 1.9.2 < 1.10.0), other runs compare bytewise. When all runs compare equal, the name with
// fewer runs sorts first (v1 < v1-rc1: pre-release suffixes are not special); as a last resort
// the raw strings are compared, so the order is total. Dates written as YYYY-MM-DD or
// YYYYMMDDhhmm and timestamps sort chronologically under this rule.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		ca, ra := nextRun(a)
		cb, rb := nextRun(b)
		da, db := isDigit(ca[0]), isDigit(cb[0])
		var c int
		switch {
		case da && db:
			c = compareNumeric(ca, cb)
		default:
			c = strings.Compare(ca, cb)
		}
		if c != 0 {
			return c
		}
		a, b = ra, rb
	}
	switch {
	case a == "" && b != "":
		return -1
	case a != "" && b == "":
		return 1
	}
	return 0
}

// versionLess is the strict order used to sort versions; names that compare equal under
// compareVersions (v01 vs v1) fall back to bytewise order.
func versionLess(a, b string) bool {
	if c := compareVersions(a, b); c != 0 {
		return c < 0
	}
	return a < b
}

func nextRun(s string) (run, rest string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func compareNumeric(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// validVersionName reports whether name can be a version directory: a single, non-hidden path
// element of printable ASCII without separators. Hidden names (".v3.tmp") are how a new
// version is staged before an atomic rename.
func validVersionName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}
