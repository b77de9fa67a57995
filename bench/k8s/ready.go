package k8sbench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	clusterbench "metropolis.dev/metropolis/bench/cluster"
	"metropolis.dev/metropolis/node/ports"
)

// Client calls apiservers as the owner, with a credential from Management.
type Client struct {
	http *http.Client
}

// NewClient fetches an owner credential; it fails while no controller has made the PKI.
func NewClient(ctx context.Context, mgmt apb.ManagementClient) (*Client, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	res, err := mgmt.GetKubernetesCredential(ctx, &apb.GetKubernetesCredentialRequest{PublicKey: pub})
	if err != nil {
		return nil, fmt.Errorf("kubernetes credential: %w", err)
	}
	ca, err := x509.ParseCertificate(res.CaCertificate)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	cert := tls.Certificate{Certificate: [][]byte{res.Certificate}, PrivateKey: key}
	return &Client{http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ServerName: "kubernetes"},
		DisableKeepAlives: true,
	}}}, nil
}

// Ready says whether the apiserver at address answers /readyz with ok.
func (c *Client) Ready(ctx context.Context, address string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(address, strconv.Itoa(int(ports.KubernetesAPI)))+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := c.http.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64))
	return res.StatusCode == http.StatusOK && string(body) == "ok"
}

// WaitReady polls until the apiserver at address is ready (or gone, if want is false) and
// returns how long that took.
func (c *Client) WaitReady(ctx context.Context, address string, want bool) (time.Duration, error) {
	start := time.Now()
	for c.Ready(ctx, address) != want {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("apiserver at %s ready=%v: %w", address, want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}

// RoleToReady grants KubernetesController to node nodeID (at address), waits for its apiserver
// to be ready and returns the time from the grant's answer; then revokes the role and waits
// for the apiserver to stop, so that it can be called again.
func RoleToReady(ctx context.Context, c *clusterbench.Cluster, client *Client, nodeID, address string) (time.Duration, error) {
	yes, no := true, false
	if _, err := c.Management.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: nodeID, KubernetesController: &yes}); err != nil {
		return 0, fmt.Errorf("grant KubernetesController: %w", err)
	}
	took, err := client.WaitReady(ctx, address, true)
	if err != nil {
		return 0, err
	}
	if _, err := c.Management.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: nodeID, KubernetesController: &no}); err != nil {
		return 0, fmt.Errorf("revoke KubernetesController: %w", err)
	}
	if _, err := client.WaitReady(ctx, address, false); err != nil {
		return 0, err
	}
	return took, nil
}
