package predict

import (
	"unicode/utf16"
	"unicode/utf8"
)

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence in b, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// unescape decodes the body of a JSON string (without its quotes) that contains escapes.
// It returns the decoded bytes, or the offset of the first problem (-1 if none) and what it
// is: an unknown escape, a malformed \u escape, a lone UTF-16 surrogate, invalid UTF-8.
func unescape(raw []byte) (out []byte, bad int, msg string) {
	out = make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, i, "invalid UTF-8 in string"
			}
			out = append(out, raw[i:i+n]...)
			i += n
			continue
		}
		if i+1 >= len(raw) {
			return nil, i, "invalid string escape"
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw, i+2)
			if !ok {
				return nil, i, "invalid \\u escape"
			}
			n := 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
					r2, ok2 = hex4(raw, i+8)
				}
				pair := utf16.DecodeRune(r, r2)
				if !ok2 || pair == utf8.RuneError {
					return nil, i, "lone UTF-16 surrogate in \\u escape"
				}
				r, n = pair, 12
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			return nil, i, "invalid string escape"
		}
		i += 2
	}
	return out, -1, ""
}

// hex4 decodes the 4 hex digits at raw[i:i+4].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Truncate shortens s to at most n bytes (at a rune boundary) plus "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
