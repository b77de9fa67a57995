package rpc

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"

	"metropolis.dev/metropolis/api/authz"
	"metropolis.dev/metropolis/node/pki"
)

// errServiceCertificate is why a cluster service certificate (etcd peer, Kubernetes component)
// or a metrics scraper's makes its holder anonymous here: services talk to their own servers
// and scrapers to the metrics port (node/metrics), not to the Metropolis API.
var errServiceCertificate = errors.New("service and metrics certificates carry no Metropolis API permissions")

// identify classifies the client side of a TLS connection against the cluster CA at now. It is
// the whole "who is calling" decision, kept free of gRPC so that tests can drive it directly.
func identify(state tls.ConnectionState, ca *x509.Certificate, now time.Time) *Peer {
	if len(state.PeerCertificates) == 0 {
		return &Peer{Kind: authz.KindAnonymous}
	}
	leaf := state.PeerCertificates[0]
	p := &Peer{Kind: authz.KindAnonymous, Certificate: leaf}
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); ok {
		p.PublicKey = pub
	}
	id, err := pki.Verify(leaf, ca, pki.PurposeClient, now)
	if err != nil {
		p.Rejected = err
		return p
	}
	switch id.Kind {
	case pki.KindUser:
		p.Kind, p.Name = authz.KindOwner, id.Name
	case pki.KindNode:
		p.Kind, p.Name = authz.KindNode, id.Name
	default:
		p.Rejected = errServiceCertificate
	}
	return p
}
