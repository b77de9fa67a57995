package config

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// Context is one cluster context as loaded from the store. It is a snapshot: changing it
// changes nothing on disk (use the Store's Set methods).
type Context struct {
	Name string
	// Endpoints are host:port addresses of curator nodes; may be empty.
	Endpoints []string
	// OwnerKey is the owner's private key; always set.
	OwnerKey ed25519.PrivateKey
	// CA is the pinned cluster CA certificate; nil until the first contact.
	CA *x509.Certificate
	// OwnerCertificate is the cluster-issued certificate for OwnerKey; nil until ownership
	// was taken.
	OwnerCertificate *x509.Certificate
}

// OwnerTLSCertificate pairs the owner certificate with the owner key for a TLS client.
func (c *Context) OwnerTLSCertificate() (*tls.Certificate, error) {
	if c.OwnerCertificate == nil {
		return nil, fmt.Errorf("context %q has no owner certificate yet (run metroctl cluster takeownership)", c.Name)
	}
	cert, err := pki.TLSCertificate(c.OwnerCertificate, c.OwnerKey)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", c.Name, err)
	}
	return &cert, nil
}

// LoadContext reads the context name. Errors name the file that is missing or wrong.
func (s *Store) LoadContext(name string) (*Context, error) {
	if err := s.checkExists(name); err != nil {
		return nil, err
	}
	dir := s.contextDir(name)
	c := &Context{Name: name}

	path := filepath.Join(dir, contextFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("context %q: read %s: %w", name, path, err)
	}
	f, err := ParseContextFile(data)
	if err != nil {
		return nil, fmt.Errorf("context %q: %s: %w", name, path, err)
	}
	c.Endpoints = f.Endpoints

	if c.OwnerKey, err = loadOwnerKey(filepath.Join(dir, ownerKeyFileName)); err != nil {
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	if c.CA, err = loadOptionalCertificate(filepath.Join(dir, caFileName)); err != nil {
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	if c.CA != nil && !c.CA.IsCA {
		return nil, fmt.Errorf("context %q: %s: certificate is not a CA certificate", name, filepath.Join(dir, caFileName))
	}
	certPath := filepath.Join(dir, ownerCertFileName)
	if c.OwnerCertificate, err = loadOptionalCertificate(certPath); err != nil {
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	if c.OwnerCertificate != nil {
		if _, err := pki.TLSCertificate(c.OwnerCertificate, c.OwnerKey); err != nil {
			return nil, fmt.Errorf("context %q: %s does not belong to the owner key: %w", name, certPath, err)
		}
	}
	return c, nil
}

// loadOwnerKey reads the owner key, refusing a file that others may read (as ssh does): the
// key is the cluster's owner credential.
func loadOwnerKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("owner key file %s is missing", path)
	}
	if err != nil {
		return nil, fmt.Errorf("owner key file %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("owner key file %s has mode %#o and may be read by others; run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("owner key file %s: %w", path, err)
	}
	key, err := identity.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("owner key file %s: %w", path, err)
	}
	return key, nil
}

// loadOptionalCertificate reads a PEM certificate, returning nil if the file does not exist.
func loadOptionalCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cert, nil
}

// SetEndpoints replaces the endpoints of the context name.
func (s *Store) SetEndpoints(name string, endpoints []string) error {
	if err := s.checkExists(name); err != nil {
		return fmt.Errorf("set endpoints: %w", err)
	}
	eps, err := ParseEndpoints(endpoints)
	if err != nil {
		return fmt.Errorf("set endpoints of context %q: %w", name, err)
	}
	data, err := (&ContextFile{Endpoints: eps}).Marshal()
	if err != nil {
		return fmt.Errorf("set endpoints of context %q: %w", name, err)
	}
	return atomicfile.Write(filepath.Join(s.contextDir(name), contextFileName), data, 0o644)
}

// SetCA pins ca as the cluster CA of the context name. Pinning the same CA again does
// nothing; replacing a pinned CA with another is refused, since that is exactly what pinning
// protects against (delete and recreate the context to trust a new cluster).
func (s *Store) SetCA(name string, ca *x509.Certificate) error {
	c, err := s.LoadContext(name)
	if err != nil {
		return fmt.Errorf("pin CA: %w", err)
	}
	if !ca.IsCA {
		return fmt.Errorf("pin CA of context %q: certificate %q is not a CA certificate", name, ca.Subject)
	}
	if c.CA != nil {
		if c.CA.Equal(ca) {
			return nil
		}
		return fmt.Errorf("pin CA of context %q: it already pins CA %s, not %s; delete and recreate the context to trust another cluster", name, pki.Fingerprint(c.CA), pki.Fingerprint(ca))
	}
	return atomicfile.Write(filepath.Join(s.contextDir(name), caFileName), pki.EncodeCertificatePEM(ca), 0o644)
}

// SetOwnerCertificate stores cert as the owner certificate of the context name. The context
// must pin a CA that signed cert, and cert must be for the context's owner key.
func (s *Store) SetOwnerCertificate(name string, cert *x509.Certificate) error {
	c, err := s.LoadContext(name)
	if err != nil {
		return fmt.Errorf("store owner certificate: %w", err)
	}
	if c.CA == nil {
		return fmt.Errorf("store owner certificate of context %q: the context pins no CA yet", name)
	}
	if err := cert.CheckSignatureFrom(c.CA); err != nil {
		return fmt.Errorf("store owner certificate of context %q: not signed by the pinned CA %s: %w", name, pki.Fingerprint(c.CA), err)
	}
	if _, err := pki.TLSCertificate(cert, c.OwnerKey); err != nil {
		return fmt.Errorf("store owner certificate of context %q: %w", name, err)
	}
	return atomicfile.Write(filepath.Join(s.contextDir(name), ownerCertFileName), pki.EncodeCertificatePEM(cert), 0o644)
}
