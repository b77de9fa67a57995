// Command testreport reads `go test -json` on its standard input, prints each test's output as
// `go test -v` would, and ends with a summary of what failed: every failed test's last lines
// and, for a package that timed out or panicked, the tests that were running with the last
// lines each of them logged.
//
// It exists for scripts/test's end-to-end step. Those tests boot virtual machines for many
// minutes; without -v they are silent until a package ends, and a package that times out ends
// with thousands of lines of goroutine dumps, so that the end of the log (all a CI summary
// shows) names neither the test that hung nor what it last waited for. The summary puts that at
// the end. The exit status is 1 if any test or package failed, so that a pipeline fails even if
// `go test` itself is not watched.
package main
