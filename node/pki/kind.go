package pki

import (
	"crypto/x509"
	"fmt"
)

// Kind is the kind of identity a leaf certificate represents.
type Kind int

const (
	// KindNode is a cluster node, named by its node ID.
	KindNode Kind = iota + 1
	// KindUser is a person or tool managing the cluster, e.g. the owner.
	KindUser
	// KindService is a component such as an etcd peer or a Kubernetes controller.
	KindService
	// KindMetrics is a metrics scraper (a Prometheus server): it may read the nodes' metrics
	// endpoints and nothing else, and the API treats it as anonymous.
	KindMetrics
)

// Subject organizational units that mark each kind; see the package documentation.
const (
	ouNode    = "metropolis:node"
	ouUser    = "metropolis:user"
	ouService = "metropolis:service"
	ouMetrics = "metropolis:metrics"
	ouCA      = "metropolis:ca"
)

func (k Kind) String() string {
	switch k {
	case KindNode:
		return "node"
	case KindUser:
		return "user"
	case KindService:
		return "service"
	case KindMetrics:
		return "metrics"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

func (k Kind) ou() string {
	switch k {
	case KindNode:
		return ouNode
	case KindUser:
		return ouUser
	case KindService:
		return ouService
	case KindMetrics:
		return ouMetrics
	default:
		panic(fmt.Sprintf("pki: no OU for %v", k))
	}
}

// KindOf reads the identity kind a certificate claims. It does not check who signed it; use
// Verify for anything that makes a decision.
func KindOf(cert *x509.Certificate) (Kind, error) {
	ous := cert.Subject.OrganizationalUnit
	if len(ous) != 1 {
		return 0, fmt.Errorf("certificate has %d organizational units, want exactly one Metropolis identity kind", len(ous))
	}
	switch ous[0] {
	case ouNode:
		return KindNode, nil
	case ouUser:
		return KindUser, nil
	case ouService:
		return KindService, nil
	case ouMetrics:
		return KindMetrics, nil
	case ouCA:
		return 0, fmt.Errorf("certificate is the CA certificate, not a leaf")
	default:
		return 0, fmt.Errorf("certificate's organizational unit %q is not a Metropolis identity kind", ous[0])
	}
}
