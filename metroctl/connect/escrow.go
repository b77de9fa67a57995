package connect

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/pki"
)

// EscrowOwnerCertificate runs AAA.Escrow with the owner key and returns the certificate the
// cluster issued, checked against the pinned CA.
func EscrowOwnerCertificate(ctx context.Context, c *config.Context) (*x509.Certificate, error) {
	conn, err := ClusterForEscrow(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stream, err := apb.NewAAAClient(conn).Escrow(ctx)
	if err != nil {
		return nil, err
	}
	// A failed Send only says the stream broke; Recv returns the reason.
	_ = stream.Send(&apb.EscrowFromClient{Parameters: &apb.EscrowFromClient_Parameters{RequestedIdentity: "owner"}})
	res, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	stream.CloseSend()
	if len(res.EmittedCertificate) == 0 {
		needed := make([]string, len(res.Needed))
		for i, p := range res.Needed {
			needed[i] = p.String()
		}
		return nil, fmt.Errorf("the cluster issued no certificate; it asks for proofs metroctl cannot give: %s", strings.Join(needed, ", "))
	}
	cert, err := pki.ParseCertificateDER(res.EmittedCertificate)
	if err != nil {
		return nil, fmt.Errorf("the cluster sent an unparseable owner certificate: %w", err)
	}
	if _, err := pki.VerifyUser(cert, c.CA, time.Now()); err != nil {
		return nil, fmt.Errorf("the cluster sent an unusable owner certificate: %w", err)
	}
	return cert, nil
}
