//go:build amd64 && !purego

package sha256x16

import "golang.org/x/sys/cpu"

//go:generate go run gen.go

// VPSHUFB on 512 bits needs AVX512BW; the rest is AVX512F.
var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW

// blocks16 runs n blocks of SHA-256's compression on 16 lanes: lane l
// compresses the block at base+l.at[l] into its state while l.at[l] <
// l.end[l], advancing l.at[l] by 64 each time.
//
//go:noescape
func blocks16(l *lanes16, base *byte, n int)
