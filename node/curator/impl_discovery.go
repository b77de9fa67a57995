package curator

import (
	"context"
	"crypto/x509"

	apb "metropolis.dev/metropolis/api/v1"
)

// discoveryServer serves Discovery on every curator, leader or not.
type discoveryServer struct {
	apb.UnimplementedDiscoveryServer
	s  *Service
	ca *x509.Certificate
}

func (d *discoveryServer) GetCACertificate(context.Context, *apb.GetCACertificateRequest) (*apb.GetCACertificateResponse, error) {
	return &apb.GetCACertificateResponse{CaCertificate: d.ca.Raw}, nil
}

// GetCurrentLeader sends the leader whenever it changes, and nothing while none is elected.
func (d *discoveryServer) GetCurrentLeader(_ *apb.GetCurrentLeaderRequest, srv apb.Discovery_GetCurrentLeaderServer) error {
	w := d.s.leaderView.Watch()
	defer w.Close()
	for {
		cur, err := w.Get(srv.Context())
		if err != nil {
			return err
		}
		if cur == nil {
			continue
		}
		if err := srv.Send(&apb.GetCurrentLeaderResponse{
			LeaderNodeId:  cur.GetNodeId(),
			LeaderAddress: cur.GetAddress(),
			ThisNodeId:    d.s.nodeID,
		}); err != nil {
			return err
		}
	}
}
