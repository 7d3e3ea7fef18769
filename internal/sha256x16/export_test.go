package sha256x16

func setAVX512(on bool) { useAVX512 = on }
