//go:build !amd64 || purego

package sha256x16

var useAVX512 = false

func blocks16(*lanes16, *byte, int) { panic("sha256x16: no AVX-512") }
