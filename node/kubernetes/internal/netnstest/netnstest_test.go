package netnstest

import (
	"os"
	"testing"

	"github.com/vishvananda/netns"
)

// TestNewAndDo: a new namespace differs from the test's, Do runs inside it, and the thread
// is back in the test's namespace afterwards.
func TestNewAndDo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	var outside netns.NsHandle
	if err := Do(netns.None(), func() (err error) { outside, err = netns.Get(); return err }); err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	ns := New(t)
	if ns.Equal(outside) {
		t.Fatal("New returned the test's own namespace")
	}
	err := Do(ns, func() error {
		in, err := netns.Get()
		if err != nil {
			return err
		}
		defer in.Close()
		if !in.Equal(ns) {
			t.Error("Do ran f outside the namespace")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Do(netns.None(), func() error {
		now, err := netns.Get()
		if err != nil {
			return err
		}
		defer now.Close()
		if !now.Equal(outside) {
			t.Error("the thread stayed in the new namespace")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
