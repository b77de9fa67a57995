// Package eventually is the one way tests wait for a condition: a unit test for a runnable to
// settle, an end-to-end test for a node to come back UP. A test that waits calls Pass (or Poll,
// to decide itself what a timeout means) with a check that returns nil once the condition
// holds and otherwise an error saying what it saw instead.
//
// Every wait has a deadline and says what it waits for, so that a test that fails does so in
// bounded time and names the condition that never held, with the check's last error. Checks
// are tried often at first and then less and less often (1 ms, doubling up to 1 s), which keeps
// unit tests fast without making tests against virtual machines spin. Each attempt gets a
// context that ends with the wait, for checks that call out; a check whose calls may hang
// bounds them further itself. Pass logs how long a wait took, and the last error now and then
// while it goes on, so that a slow test shows where its time went.
//
// Waiting is for conditions reached by other goroutines or processes. Code driven by time
// (timers, backoffs, renewals) is tested with an injected fake clock that the test advances
// instead of waiting for it: node/renewal's tests step through years of renewals without
// sleeping. The package imports only the standard library, so tests of every layer can use it.
package eventually
