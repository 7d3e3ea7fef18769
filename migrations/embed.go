// Package migrations holds hepvault's schema as numbered SQL files
// (NNNN_name.up.sql), embedded in the binary; store applies them in order.
package migrations

import "embed"

// FS holds the *.up.sql files.
//
//go:embed *.up.sql
var FS embed.FS
