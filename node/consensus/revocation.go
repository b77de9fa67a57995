package consensus

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// Revoked certificates.
//
// Every consensus certificate has the same common name (PeerCommonName), so the name check
// admits the etcd certificate of a node that is no longer a member just as well as a current
// member's. Such certificates are refused by a revocation list instead: an X.509 CRL the
// curator keeps and signs with the cluster CA. Etcd reads the file on every new connection to
// its peer and client ports, so a list written while the member runs takes effect at once,
// without a restart.

// revocationListFile is the list etcd reads, beside the member's other TLS files.
const revocationListFile = "crl.der"

// RevocationListPath is where the member with data directory dataDir reads its revocation list.
func RevocationListPath(dataDir string) string {
	return filepath.Join(dataDir, "tls", revocationListFile)
}

// WriteRevocationList replaces the revocation list of the member with data directory dataDir
// with der, which must parse as a CRL; the caller has checked who signed it
// (pki.VerifyRevocationList). It may be called before the member starts and while it runs.
func WriteRevocationList(dataDir string, der []byte) error {
	if _, err := x509.ParseRevocationList(der); err != nil {
		return fmt.Errorf("revocation list: %w", err)
	}
	path := RevocationListPath(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("revocation list: %w", err)
	}
	if err := atomicfile.Write(path, der, 0o600); err != nil {
		return fmt.Errorf("revocation list: %w", err)
	}
	return nil
}

// ensureRevocationList makes sure the member has a list to read when it starts: etcd refuses
// every connection if the file is missing or unreadable. A member that was never given the
// cluster's list (the first node before its curator runs, or one whose curator predates the
// lists) starts with an empty list of its own making, which refuses nothing, until the
// cluster's list arrives. Etcd reads only the serial numbers, so who signed the placeholder
// does not matter; it is signed by a throwaway CA so that it is a well-formed CRL.
func ensureRevocationList(dir string) error {
	path := filepath.Join(dir, revocationListFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("revocation list: %w", err)
	}
	ca, err := pki.NewCA("metropolis consensus placeholder", time.Hour)
	if err != nil {
		return fmt.Errorf("placeholder revocation list: %w", err)
	}
	now := time.Now()
	der, err := ca.RevocationList(nil, 0, now, now.Add(time.Hour))
	if err != nil {
		return fmt.Errorf("placeholder revocation list: %w", err)
	}
	return atomicfile.Write(path, der, 0o600)
}
