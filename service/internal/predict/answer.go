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
// clients. A tree has few distinct leaf probabilities, so each distinct value is formatted
// once per answer and copied after that (memo).
func AppendAnswer(b []byte, labels []int32, proba []float64, m *Model, memo *FloatMemo) []byte {
	return appendModel(appendPredictions(b, labels, proba, memo), m)
}

// appendPredictions writes the answer up to the probabilities (the object left open).
func appendPredictions(b []byte, labels []int32, proba []float64, memo *FloatMemo) []byte {
	if memo == nil {
		memo = new(FloatMemo)
	}
	memo.next()
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
		b = memo.append(b, proba[2*i])
		b = append(b, ',')
		b = memo.append(b, proba[2*i+1])
		b = append(b, ']')
	}
	return append(b, ']')
}

// appendModel closes the answer with the model's identity.
func appendModel(b []byte, m *Model) []byte {
	b = append(b, `,"model_version":`...)
	b = append(b, m.versionJSON...)
	b = append(b, `,"model_digest":`...)
	b = append(b, m.digestJSON...)
	return append(b, "}\n"...)
}

// FloatMemo remembers where in the answer being written each recent float64 value was
// formatted (a small direct-mapped table, reset per answer by a generation number).
type FloatMemo struct {
	gen   uint32
	slots [64]struct {
		bits   uint64
		gen    uint32
		off, n uint32
	}
}

func (f *FloatMemo) next() {
	f.gen++
	if f.gen == 0 { // wrapped: old entries could match again
		f.slots = [64]struct {
			bits   uint64
			gen    uint32
			off, n uint32
		}{}
		f.gen = 1
	}
}

// append writes v's encoding: copied from earlier in b when v was written already.
func (f *FloatMemo) append(b []byte, v float64) []byte {
	bits := math.Float64bits(v)
	s := &f.slots[(bits*0x9E3779B97F4A7C15)>>58]
	if s.gen == f.gen && s.bits == bits {
		return append(b, b[s.off:s.off+s.n]...)
	}
	start := len(b)
	b = appendFloat(b, v)
	s.bits, s.gen, s.off, s.n = bits, f.gen, uint32(start), uint32(len(b)-start)
	return b
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
