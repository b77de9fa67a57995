package metrics

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"metropolis.dev/metropolis/node/pki"
)

// refusal is why a scrape is refused: the HTTP status and a sentence for the scraper's log.
type refusal struct {
	status  int
	message string
}

// authorize decides whether the client of a TLS connection may scrape: only with a metrics
// certificate from ca, valid at now. It returns the scraper's name, or why not.
func authorize(state *tls.ConnectionState, ca *x509.Certificate, now time.Time) (string, *refusal) {
	if state == nil {
		return "", &refusal{http.StatusBadRequest, "metrics are served over TLS only"}
	}
	if len(state.PeerCertificates) == 0 {
		return "", &refusal{http.StatusUnauthorized, "no client certificate: present a metrics credential (metroctl metrics credential)"}
	}
	name, err := pki.VerifyMetrics(state.PeerCertificates[0], ca, now)
	if err != nil {
		return "", &refusal{http.StatusForbidden, fmt.Sprintf("refused: %v; scraping needs a metrics credential of this cluster (metroctl metrics credential)", err)}
	}
	return name, nil
}
