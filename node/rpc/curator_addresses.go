package rpc

import (
	"slices"
	"sync"
)

// CuratorAddresses is the set of curator addresses (host:port) a DialCuratorAt connection asks
// for the leader. It may change while connections use it: a node learns the cluster's curators
// as consensus members come and go, and a connection that was given only the first node's
// address must still find the leader after that node is gone.
type CuratorAddresses struct {
	mu   sync.Mutex
	list []string
}

// NewCuratorAddresses returns a set holding initial.
func NewCuratorAddresses(initial []string) *CuratorAddresses {
	a := &CuratorAddresses{}
	a.Add(initial...)
	return a
}

// Add puts addresses into the set.
func (a *CuratorAddresses) Add(addrs ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, addr := range addrs {
		if !slices.Contains(a.list, addr) {
			a.list = append(a.list, addr)
		}
	}
}

// List returns the addresses in the order they were added.
func (a *CuratorAddresses) List() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.list)
}
