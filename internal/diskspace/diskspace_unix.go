//go:build unix

package diskspace

import (
	"fmt"
	"syscall"
)

func of(path string) (Usage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return Usage{}, fmt.Errorf("diskspace: %s: %w", path, err)
	}
	// The field types differ between systems; the conversions fit them all.
	bs := int64(st.Bsize)
	return Usage{Total: int64(st.Blocks) * bs, Free: int64(st.Bavail) * bs}, nil
}
