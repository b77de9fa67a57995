package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// namespaceDir is where named network namespaces are bind-mounted, the place `ip netns` uses.
const namespaceDir = "/run/netns"

// onNamespaceThread runs fn on an OS thread of its own that fn may move into another network
// namespace. The thread is never handed back to the Go scheduler: its goroutine ends while
// still locked to it, which makes the runtime retire the thread, so no other goroutine can ever
// run in the namespace by accident.
func onNamespaceThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// createNamespace creates the named network namespace ns and returns a handle to it, which the
// caller closes.
func createNamespace(ns string) (netns.NsHandle, error) {
	var h netns.NsHandle
	err := onNamespaceThread(func() error {
		var err error
		// NewNamed moves the calling thread into the new namespace, which is why it runs on a
		// thread of its own.
		h, err = netns.NewNamed(ns)
		return err
	})
	if err != nil {
		// NewNamed leaves the mount point behind if mounting fails. One that already existed
		// is someone else's and stays.
		if !errors.Is(err, fs.ErrExist) {
			_ = deleteNamespace(ns)
		}
		return netns.None(), fmt.Errorf("create network namespace %s: %w", ns, err)
	}
	return h, nil
}

// deleteNamespace removes the named namespace ns; one that is already gone is no error. The
// namespace itself lives on while a process still runs in it.
func deleteNamespace(ns string) error {
	path := filepath.Join(namespaceDir, ns)
	// EINVAL: not a mount point (a half-created namespace); ENOENT: already gone.
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete network namespace %s: unmount: %w", ns, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete network namespace %s: %w", ns, err)
	}
	return nil
}

// listNamespaces returns the names of every named namespace that belongs to network name.
func listNamespaces(name string) ([]string, error) {
	entries, err := os.ReadDir(namespaceDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		if isNodeName(name, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// inNamespace runs fn with its OS thread in the named namespace ns.
func inNamespace(ns string, fn func() error) error {
	return onNamespaceThread(func() error {
		h, err := netns.GetFromName(ns)
		if err != nil {
			return fmt.Errorf("open network namespace %s: %w", ns, err)
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", ns, err)
		}
		return fn()
	})
}
