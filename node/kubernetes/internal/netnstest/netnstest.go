// Package netnstest gives the network tests of node/kubernetes (pod network, service proxy)
// scratch network namespaces, so they program routes, links and nf_tables against the real
// kernel without touching the machine's own network.
package netnstest

import (
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// New makes a network namespace that lives as long as the test. The caller's thread stays in
// its own namespace.
func New(t testing.TB) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	err := Do(netns.None(), func() error {
		var err error
		ns, err = netns.New() // switches this thread; Do switches it back
		return err
	})
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// Do runs f on an OS thread switched into ns (or left where it is if ns is netns.None()), and
// switches the thread back afterwards; sockets f creates stay in ns.
func Do(ns netns.NsHandle, f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	// The thread goes back to other goroutines only once it is back in its namespace; if that
	// fails it stays locked and ends with this goroutine.
	defer func() {
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	if ns.IsOpen() {
		if err := netns.Set(ns); err != nil {
			return err
		}
	}
	return f()
}
