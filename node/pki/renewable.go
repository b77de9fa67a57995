package pki

import (
	"crypto/tls"
	"sync/atomic"
	"time"
)

// Renewable is a certificate that is replaced while in use: TLS configurations built on it
// (rpc.ServerTLSConfig, rpc's dialers) read it at every handshake, so each connection made
// after Replace presents the new certificate. Connections already open keep theirs: TLS checks
// a certificate's validity only in the handshake.
type Renewable struct {
	current atomic.Pointer[tls.Certificate]
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
func (r *Renewable) Replace(cert tls.Certificate) { r.current.Store(&cert) }

// RenewAt is when a certificate valid from notBefore until notAfter is renewed: once two thirds
// of its lifetime have passed, which leaves a third (four months of a one-year certificate) to
// ride out a cluster that cannot issue it.
func RenewAt(notBefore, notAfter time.Time) time.Time {
	return notBefore.Add(notAfter.Sub(notBefore) * 2 / 3)
}
