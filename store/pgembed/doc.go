// Package pgembed runs a private PostgreSQL server from the system's
// binaries: hepvault's "embedded default" when `hepvault serve` gets no
// --db, and the throwaway cluster behind store/storetest.
//
// It sits beside the pipeline, not in it: cmd starts a Server, hands its
// DSN to store.Open and stops it on exit. The package is stdlib only and
// drives the binaries (initdb, postgres); it speaks just enough of the
// PostgreSQL wire protocol to know the server is ready and to create the
// database.
//
// # Layout
//
// Config.DataDir is hepvault's data folder. The cluster lives in
// DataDir/pgdata and the server's log in DataDir/postgresql.log. A first
// Start runs initdb; later Starts reuse the cluster, so a second
// `hepvault serve` keeps its data. DataDir must not itself be a cluster.
//
// # Process
//
// postgres runs as a child process (not daemonised by pg_ctl) in its own
// process group, so a Ctrl-C in the terminal reaches hepvault only and the
// store can flush before Stop shuts the server down. On Linux the child
// gets SIGINT (fast shutdown) when hepvault dies, even by SIGKILL
// (Pdeathsig), so no server outlives us. It listens on 127.0.0.1 only; unix
// sockets are off, which avoids the ~107-byte socket path limit.
//
// # Running as root
//
// initdb and postgres refuse to run as root. When the process is root they
// run as the "postgres" system user (created by the distribution's
// postgresql package): pgdata is chowned to it, and every directory above
// pgdata must let it pass (o+x); Start says which one does not.
//
// # Binaries
//
// Config.BinDir, else $HEPVAULT_PG_BIN, else initdb on PATH (symlinks
// resolved), else the newest /usr/lib/postgresql/*/bin (Debian, Ubuntu),
// preferring the major version that created an existing cluster.
//
// # Replicas
//
// StartReplica makes a streaming replica of a running Server with
// pg_basebackup -R and starts it: read-only, following its primary over a
// replication connection from 127.0.0.1. The tests of reads from a replica
// use it.
//
// Linux is the supported platform; other Unix systems work without the
// parent-death signal.
package pgembed
