package predict

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkParse: the parser alone on machine-written "features" rows (as the load test
// sends) and on "instances", 117 features.
func BenchmarkParse(b *testing.B) {
	names := make([]string, 117)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
	}
	m := newSchema(names...)
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 100} {
		var fb, ib strings.Builder
		fb.WriteString(`{"features":[`)
		ib.WriteString(`{"instances":[`)
		for r := 0; r < n; r++ {
			if r > 0 {
				fb.WriteByte(',')
				ib.WriteByte(',')
			}
			fb.WriteByte('[')
			ib.WriteByte('{')
			first := true
			for j := 0; j < 117; j++ {
				if j > 0 {
					fb.WriteByte(',')
				}
				v := rng.Intn(2)
				fb.WriteString(strconv.Itoa(v))
				if v == 1 {
					if !first {
						ib.WriteByte(',')
					}
					first = false
					ib.WriteString(`"` + names[j] + `":1`)
				}
			}
			fb.WriteByte(']')
			ib.WriteByte('}')
		}
		fb.WriteString("]}")
		ib.WriteString("]}")
		for name, body := range map[string][]byte{"features": []byte(fb.String()), "instances": []byte(ib.String())} {
			b.Run(name+"/"+strconv.Itoa(n)+"rows", func(b *testing.B) {
				var p Parser
				var x []int8
				var seen []uint32
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					p.Reset(body, m, Limits{MaxRows: 10000, MaxDepth: 32}, x, seen)
					if err := p.Parse(); err != nil {
						b.Fatal(err)
					}
					x, seen = p.x, p.seen
				}
			})
		}
	}
}
