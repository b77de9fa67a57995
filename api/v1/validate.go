package apb

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// ValidateNodeParameters checks p before a node acts on it and returns an error naming the
// first wrong field by its proto path (e.g. "cluster_register.ca_certificate: not a valid
// X.509 certificate: ..."), so the message points at what a person has to fix.
//
// It checks what can be known without the cluster: that exactly one of cluster_bootstrap and
// cluster_register is set (on the wire, a message holding both decodes to the last one, as
// protobuf oneofs do), key and certificate formats, address syntax. Whether the ticket or the
// CA are the right ones shows only when the node talks to the cluster.
func ValidateNodeParameters(p *NodeParameters) error {
	if p == nil {
		return errors.New("node parameters are missing")
	}
	switch c := p.GetCluster().(type) {
	case *NodeParameters_ClusterBootstrap:
		if err := validateClusterBootstrap(c.ClusterBootstrap); err != nil {
			return fmt.Errorf("cluster_bootstrap.%w", err)
		}
	case *NodeParameters_ClusterRegister:
		if err := validateClusterRegister(c.ClusterRegister); err != nil {
			return fmt.Errorf("cluster_register.%w", err)
		}
	default:
		return errors.New("cluster: neither cluster_bootstrap nor cluster_register is set; set exactly one")
	}
	if _, err := StaticNetwork(p.GetNetwork()); err != nil {
		return err
	}
	return nil
}

// The validate* helpers below return errors that start with the field's name relative to
// their message, so that the caller can prefix the path of the message.

func validateClusterBootstrap(b *ClusterBootstrap) error {
	if n := len(b.GetOwnerPublicKey()); n != ed25519.PublicKeySize {
		return fmt.Errorf("owner_public_key: want a raw ed25519 public key of %d bytes, got %d bytes", ed25519.PublicKeySize, n)
	}
	return nil
}

func validateClusterRegister(r *ClusterRegister) error {
	if len(r.GetRegisterTicket()) == 0 {
		return errors.New("register_ticket: must not be empty")
	}
	if err := checkCACertificate(r.GetCaCertificate()); err != nil {
		return fmt.Errorf("ca_certificate: %w", err)
	}
	if len(r.GetClusterAddresses()) == 0 {
		return errors.New("cluster_addresses: must list at least one host:port")
	}
	for i, addr := range r.GetClusterAddresses() {
		if err := checkHostPort(addr); err != nil {
			return fmt.Errorf("cluster_addresses[%d]: %w", i, err)
		}
	}
	return nil
}

// checkCACertificate checks that der is an ed25519 CA certificate, the only kind a Metropolis
// cluster has.
func checkCACertificate(der []byte) error {
	if len(der) == 0 {
		return errors.New("must not be empty")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("not a valid X.509 certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return errors.New("not a CA certificate (its basic constraints do not mark it as a CA)")
	}
	if _, ok := cert.PublicKey.(ed25519.PublicKey); !ok {
		return fmt.Errorf("CA key algorithm is %s, want Ed25519", cert.PublicKeyAlgorithm)
	}
	return nil
}

// checkHostPort checks that addr is host:port with a non-empty host and a port from 1 to 65535.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q has an empty host", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q has port %q, want a number from 1 to 65535", addr, port)
	}
	return nil
}
