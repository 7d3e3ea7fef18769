// Package storetest gives tests that touch storage (store, api, cmd
// end-to-end) a real PostgreSQL: the server in $HEPVAULT_TEST_DSN when set,
// otherwise one throwaway cluster per test binary, started on first use
// with store/pgembed in a temp dir.
//
// Each test takes its own empty database from NewDatabase and applies the
// migrations itself. A package using it stops the cluster and removes its
// directory by calling Main from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// Without Main the server still dies with the test binary (pgembed's
// parent-death signal, Linux), but its temp dir stays behind.
//
// There is no skipping: when no server can be had, the test fails with the
// reason, since storage tests must run.
package storetest
