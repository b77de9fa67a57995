package k8s

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Why a cache: client-go keeps an exec credential only inside one process, so without it
// every kubectl or helm run would ask the curator (and its etcd) for a new certificate. The
// owner key that can ask for one lies beside the cache, with the same protection (mode 0600),
// so keeping the short-lived certificate and its key there exposes nothing new.

// RefreshBefore is how long before its expiry a cached credential is no longer handed out:
// kubectl may use what it was given for a long command, and clocks differ a little.
const RefreshBefore = 10 * time.Minute

// maxCacheFile bounds what ParseCachedCredential reads: a certificate and a key are a few KiB.
const maxCacheFile = 64 << 10

// CachedCredential is a Kubernetes client credential kept between runs of
// `metroctl k8s credential`, bound to the cluster it came from by the pinned cluster CA.
type CachedCredential struct {
	// ClusterCA is the fingerprint (pki.Fingerprint) of the context's pinned cluster CA when
	// the credential was issued: a context recreated for another cluster does not reuse it.
	ClusterCA string `json:"cluster_ca"`
	// Certificate and Key are PEM: the client certificate and its private key (PKCS #8).
	Certificate string `json:"certificate"`
	Key         string `json:"key"`

	cert *x509.Certificate
}

// NewCachedCredential pairs a certificate (DER) with its key (PEM) for the cluster whose CA
// has fingerprint clusterCA.
func NewCachedCredential(clusterCA string, certDER, keyPEM []byte) (*CachedCredential, error) {
	c := &CachedCredential{
		ClusterCA:   clusterCA,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})),
		Key:         string(keyPEM),
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseCachedCredential reads a cache file and checks that it holds a certificate with its
// own key. Errors say what is wrong without echoing the file.
func ParseCachedCredential(data []byte) (*CachedCredential, error) {
	if len(data) > maxCacheFile {
		return nil, fmt.Errorf("cached credential is %d bytes, more than the %d a credential takes", len(data), maxCacheFile)
	}
	c := &CachedCredential{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("cached credential is not JSON: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Marshal encodes the cache file.
func (c *CachedCredential) Marshal() ([]byte, error) { return json.MarshalIndent(c, "", "  ") }

// Cert is the client certificate.
func (c *CachedCredential) Cert() *x509.Certificate { return c.cert }

// ExecCredential is the credential as kubectl wants it.
func (c *CachedCredential) ExecCredential() ([]byte, error) {
	return ExecCredential(c.cert, []byte(c.Key))
}

func (c *CachedCredential) check() error {
	if c.ClusterCA == "" {
		return errors.New("cached credential names no cluster CA")
	}
	block, _ := pem.Decode([]byte(c.Certificate))
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("cached credential holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("cached credential's certificate: %w", err)
	}
	kblock, _ := pem.Decode([]byte(c.Key))
	if kblock == nil || kblock.Type != "PRIVATE KEY" {
		return errors.New("cached credential holds no PEM private key")
	}
	key, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		return fmt.Errorf("cached credential's key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return fmt.Errorf("cached credential's key is a %T, which cannot sign", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return errors.New("cached credential's key does not belong to its certificate")
	}
	c.cert = cert
	return nil
}

// Reusable says why the cached credential c must not be handed out for the cluster whose CA
// has fingerprint clusterCA at time now, or nil if it may be.
func Reusable(c *CachedCredential, clusterCA string, now time.Time) error {
	switch {
	case c.ClusterCA != clusterCA:
		return errors.New("it was issued by another cluster (the context pins another CA)")
	case now.Before(c.cert.NotBefore):
		return fmt.Errorf("it is valid only from %s (is this clock behind?)", c.cert.NotBefore.UTC().Format(time.RFC3339))
	case !now.Add(RefreshBefore).Before(c.cert.NotAfter):
		return fmt.Errorf("it expires at %s, within %v", c.cert.NotAfter.UTC().Format(time.RFC3339), RefreshBefore)
	}
	return nil
}
