package pgembed

import (
	"errors"
	"log/slog"
	"time"
)

// Config says where and how to run the server. Start it from DefaultConfig.
type Config struct {
	// DataDir is hepvault's data folder; the cluster lives in DataDir/pgdata
	// and the server log in DataDir/postgresql.log. Required.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one at every start.
	Port int
	// BinDir holds initdb and postgres; empty searches for them (FindBinDir).
	BinDir string
	// Database is created when missing; the DSN points at it.
	Database string
	// Settings are passed as "-c name=value" at every start, so they win over
	// postgresql.conf and ALTER SYSTEM.
	Settings map[string]string
	// Ephemeral trades durability for speed, for throwaway test clusters:
	// initdb --no-sync, fsync, synchronous_commit and full_page_writes off.
	// A crash of the machine may corrupt the cluster.
	Ephemeral bool
	// StartTimeout bounds the wait for the server to accept connections,
	// crash recovery after a killed run included.
	StartTimeout time.Duration
	// Logger receives start and stop events; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns settings for a capture store: durable (fsync and
// synchronous_commit stay on: no silent loss) but with compressed WAL and
// checkpoints spread out, as captures are write-heavy.
func DefaultConfig() Config {
	return Config{
		Database: "hepvault",
		Settings: map[string]string{
			"shared_buffers":     "128MB",
			"wal_compression":    "on",
			"max_wal_size":       "1GB",
			"checkpoint_timeout": "15min",
		},
		StartTimeout: 2 * time.Minute,
	}
}

// Superuser is the role initdb creates; the DSN connects as it.
const Superuser = "hepvault"

// Errors that callers test with errors.Is; the wrapping error says more.
var (
	// ErrNoBinaries: initdb or postgres not found.
	ErrNoBinaries = errors.New("PostgreSQL server binaries not found")
	// ErrPortInUse: the configured port on 127.0.0.1 is taken.
	ErrPortInUse = errors.New("port already in use")
	// ErrAlreadyRunning: a postgres process already serves the data directory.
	ErrAlreadyRunning = errors.New("PostgreSQL already running on this data directory")
	// ErrUnreachable: the postgres user cannot reach or own the data directory.
	ErrUnreachable = errors.New("data directory not usable by the postgres user")
)
