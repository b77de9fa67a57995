package main

import (
	"fmt"
	"os"
	"time"

	"metropolis.dev/metropolis/osbase/pageout"
)

// Every long-running component drops its own mappings of this binary once its startup has
// settled and then every forgetInterval (osbase/pageout.Forget). Each component runs every
// package initialiser of all of Kubernetes at start and touches a different part of the code
// afterwards; without this, each keeps the whole startup set resident, and pages all of them
// touched stay shared, so even the kernel's page-out cannot drop them. After a Forget, each
// holds what it used since.
const (
	firstForget    = time.Minute
	forgetInterval = 5 * time.Minute
)

// longRunning are the components that forget; kubectl ends long before it would matter.
var longRunning = map[string]bool{"apiserver": true, "controller-manager": true, "scheduler": true, "kubelet": true}

func forgetExecutable(component string) {
	if !longRunning[component] {
		return
	}
	go func() {
		next := firstForget
		for {
			time.Sleep(next)
			next = forgetInterval
			if _, err := pageout.Forget(); err != nil {
				fmt.Fprintf(os.Stderr, "kube %s: %v (no longer dropping startup pages)\n", component, err)
				return
			}
		}
	}()
}
