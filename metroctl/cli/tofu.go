package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/pki"
)

// caTrust says how the operator decided to trust a CA offered on first contact.
type caTrust struct {
	// yes accepts any CA without asking (--yes).
	yes bool
	// fingerprint, if set, is the only CA fingerprint to accept, without asking (--accept-ca).
	fingerprint string
}

// decide accepts or refuses offer for context name. With neither --yes nor --accept-ca it
// shows the fingerprint on out and asks on in; anything but "y" or "yes" refuses, and so does
// a closed input, so that an unattended run never trusts a CA by accident.
func (t caTrust) decide(in io.Reader, out io.Writer, name string, offer *connect.CAOffer) error {
	got := pki.Fingerprint(offer.CA)
	if t.fingerprint != "" {
		want, err := normalizeFingerprint(t.fingerprint)
		if err != nil {
			return fmt.Errorf("--accept-ca: %w", err)
		}
		if got != want {
			return fmt.Errorf("the cluster at %s offers a CA with fingerprint %s, but --accept-ca expects %s; not trusting it", offer.Endpoint, got, want)
		}
		fmt.Fprintf(out, "The cluster CA matches the fingerprint given with --accept-ca.\n")
		return nil
	}
	fmt.Fprintf(out, "The cluster at %s offers this CA certificate:\n  Subject:     %s\n  SHA-256:     %s\n  Valid until: %s\n",
		offer.Endpoint, offer.CA.Subject, got, offer.CA.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	if t.yes {
		fmt.Fprintf(out, "Trusting it (--yes).\n")
		return nil
	}
	fmt.Fprintf(out, "Compare the fingerprint with the one the cluster's first node shows.\nTrust this CA for context %q? [y/N] ", name)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("no answer to the CA question (input closed); pass --accept-ca FINGERPRINT or --yes to decide without asking")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("CA not trusted; nothing was stored")
}
