package predict

import (
	"math"
	"strconv"
)

// AppendAnswer encodes the /predict answer:
//
//	{"predictions":[0,1],"probabilities":[[1.0,0.0],[0.0,1.0]],"model_version":"v2","model_digest":"..."}
//
// Probabilities are written as the shortest decimal that parses back to the same float64
// (strconv 'f'/'e' with precision -1, as encoding/json does), so clients get the library's
// values bit for bit; integral values keep a ".0" so they stay floats in dynamically typed
// clients.
func AppendAnswer(b []byte, labels []int32, proba []float64, m *Model) []byte {
	b = append(b, `{"predictions":[`...)
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(l), 10)
	}
	b = append(b, `],"probabilities":[`...)
	for i := 0; i < len(labels); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendFloat(b, proba[2*i])
		b = append(b, ',')
		b = appendFloat(b, proba[2*i+1])
		b = append(b, ']')
	}
	b = append(b, `],"model_version":`...)
	b = append(b, m.versionJSON...)
	b = append(b, `,"model_digest":`...)
	b = append(b, m.digestJSON...)
	return append(b, "}\n"...)
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...) // cannot happen: the library validates probabilities
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as encoding/json writes it.
		n := len(b)
		if n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}
