package core

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"time"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// adoptJoinCertificate makes the node certificate the curator handed out at join the node's
// own, if it is a usable successor of the current one: presented from now on (pki.Renewable,
// which keepNodeCertificate watches to keep it for the next start). A certificate it cannot
// use is logged and left alone; the node keeps its own, which the running node renews in time.
func adoptJoinCertificate(ctx context.Context, der []byte, ca *x509.Certificate, key ed25519.PrivateKey, current *pki.Renewable) {
	logger := supervisor.Logger(ctx)
	if len(der) == 0 {
		return // a curator from before join issued certificates
	}
	leaf := current.Current().Leaf
	tlsCert, err := pki.RenewedNodeCertificate(der, leaf, ca, key)
	if err != nil {
		logger.Warningf("keeping the node certificate valid until %s: %v", leaf.NotAfter.UTC().Format(time.RFC3339), err)
		return
	}
	current.Replace(tlsCert)
	logger.Infof("node certificate renewed at join, valid until %s", tlsCert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}
