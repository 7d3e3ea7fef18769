//go:build !amd64 || purego

package sha256x16

var useAVX512 = false

func blocks16(*[8][16]uint32, *byte, *[16]uint32, *uint16, int) { panic("sha256x16: no AVX-512") }
