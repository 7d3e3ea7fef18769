package sha256x16

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// check hashes msgs as one batch, with and without AVX-512, and compares
// every digest with crypto/sha256's.
func check(t testing.TB, msgs [][]byte) {
	t.Helper()
	for _, simd := range []bool{true, false} {
		if simd && !useAVX512 {
			continue
		}
		saved := useAVX512
		setAVX512(simd)
		var b Batch
		for _, m := range msgs {
			b.Begin()
			b.Buf = append(b.Buf, m...)
			b.End()
		}
		got := b.Sum([][32]byte{{1}})
		setAVX512(saved)
		if len(got) != len(msgs)+1 || got[0] != [32]byte{1} {
			t.Fatalf("Sum gave %d digests after the one in dst, want %d", len(got)-1, len(msgs))
		}
		for i, m := range msgs {
			if want := sha256.Sum256(m); got[i+1] != want {
				t.Fatalf("avx512=%v: message %d of %d (%d bytes): %x, want %x", simd, i, len(msgs), len(m), got[i+1], want)
			}
		}
	}
}

func TestSum_Lengths(t *testing.T) {
	if !useAVX512 {
		t.Log("no AVX-512 here: only the one-by-one path is checked")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Every length around the padding's edges, in groups of every size.
	var msgs [][]byte
	for n := range 300 {
		m := make([]byte, n)
		for i := range m {
			m[i] = byte(rng.Uint32())
		}
		msgs = append(msgs, m)
	}
	for size := 1; size <= 40; size++ {
		check(t, msgs[:size])
		check(t, msgs[len(msgs)-size:])
	}
	check(t, msgs)
	for range 50 {
		rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
		check(t, msgs[:rng.IntN(len(msgs))])
	}
	// Long and short mixed in one group.
	check(t, [][]byte{make([]byte, 5000), {}, {1}, make([]byte, 64), make([]byte, 55), make([]byte, 56), make([]byte, 119), make([]byte, 4096)})
}

func TestSum_Reset(t *testing.T) {
	var b Batch
	for range 3 {
		b.Reset()
		for i := range 20 {
			b.Begin()
			b.Buf = append(b.Buf, byte(i))
			b.End()
		}
		got := b.Sum(nil)
		if len(got) != 20 || got[7] != sha256.Sum256([]byte{7}) {
			t.Fatalf("after Reset: %d digests, 8th %x", len(got), got[7])
		}
	}
	if got := (&Batch{}).Sum(nil); len(got) != 0 {
		t.Fatalf("an empty batch gave %d digests", len(got))
	}
}

func FuzzSum(f *testing.F) {
	f.Add([]byte("INVITE sip:bob@example.com SIP/2.0"), uint8(17))
	f.Fuzz(func(t *testing.T, data []byte, cuts uint8) {
		// data cut into up to 40 messages at places the input chooses.
		var msgs [][]byte
		step := int(cuts)%97 + 1
		for len(data) > 0 && len(msgs) < 40 {
			n := min(step, len(data))
			msgs = append(msgs, data[:n])
			data = data[n:]
			step = (step*7 + 3) % 131
		}
		check(t, msgs)
	})
}

func BenchmarkSum(b *testing.B) {
	// 128 messages of 700-960 bytes, a block of packets' canonical encodings.
	rng := rand.New(rand.NewPCG(3, 4))
	var batch Batch
	total := 0
	msgs := make([][]byte, 128)
	for i := range msgs {
		msgs[i] = make([]byte, 700+rng.IntN(260))
		total += len(msgs[i])
	}
	for _, simd := range []bool{true, false} {
		name := "avx512"
		if !simd {
			name = "sha-ni"
			if !useAVX512 {
				name = "one-by-one"
			}
		} else if !useAVX512 {
			continue
		}
		b.Run(name, func(b *testing.B) {
			saved := useAVX512
			setAVX512(simd)
			defer setAVX512(saved)
			b.SetBytes(int64(total))
			b.ReportAllocs()
			var out [][32]byte
			for b.Loop() {
				batch.Reset()
				for _, m := range msgs {
					batch.Begin()
					batch.Buf = append(batch.Buf, m...)
					batch.End()
				}
				out = batch.Sum(out[:0])
			}
		})
	}
}
