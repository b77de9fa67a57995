package pki

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
)

// Renewable is a certificate that is replaced while in use: TLS configurations built on it
// (rpc.ServerTLSConfig, rpc's dialers) read it at every handshake, so each connection made
// after Replace presents the new certificate. Connections already open keep theirs: TLS checks
// a certificate's validity only in the handshake.
//
// It is also a watchable value: whoever keeps the certificate for the next start (the node's
// sealed record) watches it, so that every replacement is kept, whoever made it.
type Renewable struct {
	current atomic.Pointer[tls.Certificate]
	// changes carries the same certificate to watchers; current is the handshake's fast path.
	changes memory.Value[*tls.Certificate]
}

// NewRenewable holds cert until it is replaced.
func NewRenewable(cert tls.Certificate) *Renewable {
	r := &Renewable{}
	r.Replace(cert)
	return r
}

// Current is the certificate to present now.
func (r *Renewable) Current() *tls.Certificate { return r.current.Load() }

// Replace makes cert the one presented from now on.
func (r *Renewable) Replace(cert tls.Certificate) {
	r.current.Store(&cert)
	r.changes.Set(&cert)
}

// Watch follows the certificate: its first Get returns the current one, later ones each
// replacement.
func (r *Renewable) Watch() event.Watcher[*tls.Certificate] { return r.changes.Watch() }

// RenewAt is when a certificate valid from notBefore until notAfter is renewed: once two thirds
// of its lifetime have passed, which leaves a third (four months of a one-year certificate) to
// ride out a cluster that cannot issue it.
func RenewAt(notBefore, notAfter time.Time) time.Time {
	return notBefore.Add(notAfter.Sub(notBefore) * 2 / 3)
}

// RenewedNodeCertificate checks a node certificate (DER) handed to the node holding key as
// the successor of current, and returns it ready for Replace: it must verify as a node
// certificate from ca, be for key (and so for this node: a node certificate names the node of
// its key), and expire later than current. Anything else is refused: a certificate the node
// cannot use would cut it off its cluster the moment it is presented.
func RenewedNodeCertificate(der []byte, current, ca *x509.Certificate, key ed25519.PrivateKey) (tls.Certificate, error) {
	cert, err := ParseCertificateDER(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("renewed node certificate: %w", err)
	}
	if _, err := VerifyNode(cert, ca, PurposeServer, time.Now()); err != nil {
		return tls.Certificate{}, fmt.Errorf("renewed node certificate unusable: %w", err)
	}
	tlsCert, err := TLSCertificate(cert, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("renewed node certificate is for another node: %w", err)
	}
	if !cert.NotAfter.After(current.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("renewed node certificate expires at %s, no later than the current one (%s)",
			formatTime(cert.NotAfter), formatTime(current.NotAfter))
	}
	return tlsCert, nil
}
