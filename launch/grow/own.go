package grow

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
)

// CheckContextFree refuses a launch whose metroctl context name is taken.
func CheckContextFree(contexts *config.Store, name string) error {
	if contexts == nil {
		return errors.New("no metroctl configuration given")
	}
	names, err := contexts.ContextNames()
	if err != nil {
		return err
	}
	if slices.Contains(names, name) {
		return fmt.Errorf("metroctl already has a context %q; delete it (metroctl config delete-context %s) or choose another --name", name, name)
	}
	return nil
}

// TakeOwnership is what every launcher does once it started node 1 with bootstrap parameters
// for ownerKey: wait for node 1's curator API at endpoint (alive, if set, fails the wait for
// good when node 1 is gone), pin the CA it offers (the launcher just made this cluster, so
// there is nothing to confirm), take ownership as `metroctl cluster takeownership` would, and
// make the new context name current. It returns the context.
func TakeOwnership(ctx context.Context, p *Progress, contexts *config.Store, name, endpoint string, ownerKey ed25519.PrivateKey, alive func() error) (*config.Context, error) {
	ca, err := WaitFor(ctx, p, "node 1's curator API at "+endpoint, func(ctx context.Context) (*connect.CAOffer, error) {
		if alive != nil {
			if err := alive(); err != nil {
				return nil, err
			}
		}
		return connect.FetchCA(ctx, []string{endpoint})
	})
	if err != nil {
		return nil, err
	}
	p.Step("cluster CA %s", pki.Fingerprint(ca.CA))
	if err := contexts.CreateContext(name, ownerKey, []string{endpoint}); err != nil {
		return nil, err
	}
	if err := contexts.SetCA(name, ca.CA); err != nil {
		return nil, err
	}
	mctx, err := contexts.LoadContext(name)
	if err != nil {
		return nil, err
	}
	p.Step("taking ownership")
	ownerCert, err := connect.EscrowOwnerCertificate(ctx, mctx)
	if err != nil {
		return nil, fmt.Errorf("take ownership: %w", err)
	}
	if err := contexts.SetOwnerCertificate(name, ownerCert); err != nil {
		return nil, err
	}
	if err := contexts.UseContext(name); err != nil {
		return nil, err
	}
	p.Step("took ownership; metroctl context %q", name)
	return contexts.LoadContext(name)
}

// SetCuratorEndpoints makes the context name every consensus member's curator (the first
// ConsensusMembers of addresses), so that metroctl, and kubectl through it, keeps working
// when node 1 is gone.
func SetCuratorEndpoints(contexts *config.Store, name string, addresses []string) error {
	var endpoints []string
	for _, a := range addresses[:min(ConsensusMembers, len(addresses))] {
		endpoints = append(endpoints, net.JoinHostPort(a, strconv.Itoa(int(ports.Curator))))
	}
	return contexts.SetEndpoints(name, endpoints)
}
