//go:build amd64 && !purego

package sha256x16

import "golang.org/x/sys/cpu"

//go:generate go run gen.go

// VPSHUFB on 512 bits needs AVX512BW; the rest is AVX512F.
var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

// blocks16 runs n blocks of SHA-256's compression on 16 lanes: block j of
// lane l is the 64 bytes at base+offs[j][l], compressed into lane l's state
// (state[w][l], word w) when bit l of masks[j] is set.
//
//go:noescape
func blocks16(state *[8][16]uint32, base *byte, offs *[16]uint32, masks *uint16, n int)
