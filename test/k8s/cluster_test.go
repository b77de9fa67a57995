package k8s

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/rpc"
	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// readyTimeout bounds how long a controller may take from its role to a ready apiserver; it
// takes a few seconds, more on a loaded CI machine.
const readyTimeout = 3 * time.Minute

// cluster is a hosted cluster launched for one test, with the owner's Management connection
// and a kubeconfig written by metroctl.
type cluster struct {
	*hosted.Cluster
	t          *testing.T
	configDir  string
	kubeconfig string
	ids        []string
	conn       *grpc.ClientConn
	mgmt       apb.ManagementClient
}

func launch(t *testing.T, prefix string, n int) *cluster {
	t.Helper()
	suite.Require(t)
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	c := &cluster{t: t, configDir: t.TempDir()}
	c.kubeconfig = filepath.Join(c.configDir, "kubeconfig")
	store := config.NewStore(c.configDir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hc, err := hosted.Launch(ctx, hosted.Options{
		Name: name, Nodes: n, NodeBinary: nodeBinary, KubeBinary: kubeBinary,
		Dir: filepath.Join(t.TempDir(), "cluster"), Contexts: store, Progress: testenv.LogWriter(t),
	})
	c.Cluster = hc
	if hc != nil {
		t.Cleanup(c.destroy)
	}
	if err != nil {
		t.Fatalf("launch %d-node cluster %s: %v", n, name, err)
	}
	mctx, err := store.LoadContext(name)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := mctx.OwnerTLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, a := range hc.Addresses {
		eps = append(eps, net.JoinHostPort(a, strconv.Itoa(int(ports.Curator))))
	}
	if c.conn, err = rpc.DialCurator(eps, mctx.CA, owner); err != nil {
		t.Fatal(err)
	}
	c.mgmt = apb.NewManagementClient(c.conn)
	c.ids = c.nodeIDs(ctx)
	return c
}

func (c *cluster) destroy() {
	if c.conn != nil {
		c.conn.Close()
	}
	if c.t.Failed() {
		for i := 1; i <= c.Nodes(); i++ {
			data, _ := os.ReadFile(c.LogPath(i))
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			c.t.Logf("node %d console log, last 60 lines:\n%s", i, strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	}
	if err := c.Destroy(); err != nil {
		c.t.Errorf("destroy cluster %s: %v", c.Name, err)
	}
}

// nodeIDs are the node IDs by node number (1-based index into Addresses).
func (c *cluster) nodeIDs(ctx context.Context) []string {
	stream, err := c.mgmt.GetNodes(ctx, &apb.GetNodesRequest{})
	if err != nil {
		c.t.Fatal(err)
	}
	ids := make([]string, c.Nodes())
	for {
		n, err := stream.Recv()
		if err != nil {
			break
		}
		for i, a := range c.Addresses {
			if a == n.GetStatus().GetExternalAddress() {
				ids[i] = n.Id
			}
		}
	}
	for i, id := range ids {
		if id == "" {
			c.t.Fatalf("no node reported node %d's address", i+1)
		}
	}
	return ids
}

// setController grants or revokes KubernetesController on node i.
func (c *cluster) setController(i int, on bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.mgmt.UpdateNodeRoles(ctx, &apb.UpdateNodeRolesRequest{NodeId: c.ids[i-1], KubernetesController: &on}); err != nil {
		c.t.Fatalf("set KubernetesController=%v on node %d: %v", on, i, err)
	}
}

// run runs a program and returns its combined output.
func run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (c *cluster) metroctl(args ...string) (string, error) {
	return run(time.Minute, metroctlBinary, append([]string{"--config-dir", c.configDir, "--context", c.Name}, args...)...)
}

// kubectl runs upstream kubectl (from the kube binary) with metroctl's kubeconfig.
func (c *cluster) kubectl(args ...string) (string, error) {
	return run(time.Minute, kubeBinary, append([]string{"kubectl", "--kubeconfig", c.kubeconfig}, args...)...)
}

func (c *cluster) mustKubectl(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// configure writes the kubeconfig with metroctl, waiting until the first controller has made
// the Kubernetes PKI.
func (c *cluster) configure(extra ...string) {
	c.t.Helper()
	eventually.Pass(c.t, readyTimeout, "metroctl k8s configure", func(context.Context) error {
		_, err := c.metroctl(append([]string{"k8s", "configure", "--kubeconfig", c.kubeconfig}, extra...)...)
		return err
	})
}

// credential runs the exec plugin as kubectl would and returns its certificate, and the
// Kubernetes CA from the cluster.
func (c *cluster) credential() (*tls.Certificate, *x509.CertPool) {
	c.t.Helper()
	out, err := c.metroctl("k8s", "credential")
	if err != nil {
		c.t.Fatal(err)
	}
	var ec struct {
		APIVersion string `json:"apiVersion"`
		Status     struct {
			Cert string `json:"clientCertificateData"`
			Key  string `json:"clientKeyData"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &ec); err != nil || ec.APIVersion != "client.authentication.k8s.io/v1" {
		c.t.Fatalf("credential plugin printed %q: %v", out, err)
	}
	cert, err := tls.X509KeyPair([]byte(ec.Status.Cert), []byte(ec.Status.Key))
	if err != nil {
		c.t.Fatalf("credential plugin: %v", err)
	}
	return &cert, c.kubernetesCA()
}

// pluginCertificate runs `metroctl k8s credential` with args as kubectl would (stdout the
// credential, stderr for people) and returns the certificate it printed and its stderr.
func (c *cluster) pluginCertificate(t *testing.T, args ...string) (*x509.Certificate, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, metroctlBinary, append([]string{"--config-dir", c.configDir, "--context", c.Name, "k8s", "credential"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("metroctl k8s credential %v: %v\n%s", args, err, stderr.String())
	}
	var ec struct {
		Status struct {
			Cert string `json:"clientCertificateData"`
			Key  string `json:"clientKeyData"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &ec); err != nil {
		t.Fatalf("metroctl k8s credential %v printed no ExecCredential on stdout: %v", args, err)
	}
	pair, err := tls.X509KeyPair([]byte(ec.Status.Cert), []byte(ec.Status.Key))
	if err != nil {
		t.Fatalf("metroctl k8s credential %v: %v", args, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert, stderr.String()
}

// kubernetesCA is the CA that metroctl wrote into the kubeconfig.
func (c *cluster) kubernetesCA() *x509.CertPool {
	c.t.Helper()
	data, err := os.ReadFile(c.kubeconfig)
	if err != nil {
		c.t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				CA []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
	}
	if err := yaml.Unmarshal(data, &kc); err != nil || len(kc.Clusters) != 1 {
		c.t.Fatalf("kubeconfig %s: %v (%d clusters, want 1)", c.kubeconfig, err, len(kc.Clusters))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(kc.Clusters[0].Cluster.CA) {
		c.t.Fatalf("kubeconfig %s: certificate-authority-data is not a PEM certificate", c.kubeconfig)
	}
	return pool
}

// get calls node i's apiserver directly with clientCert (nil: none) and returns the status.
func (c *cluster) get(i int, path string, roots *x509.CertPool, clientCert *tls.Certificate) (int, []byte, error) {
	cfg := &tls.Config{RootCAs: roots, ServerName: "kubernetes"}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	defer hc.CloseIdleConnections()
	res, err := hc.Get("https://" + c.apiserver(i) + path)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes(), nil
}

func (c *cluster) apiserver(i int) string {
	return net.JoinHostPort(c.Addresses[i-1], strconv.Itoa(int(ports.KubernetesAPI)))
}

// waitReady waits for node i's /readyz to say ok and returns how long that took.
func (c *cluster) waitReady(i int, roots *x509.CertPool, cert *tls.Certificate) time.Duration {
	c.t.Helper()
	return eventually.Pass(c.t, readyTimeout, fmt.Sprintf("node %d /readyz", i), func(context.Context) error {
		status, body, err := c.get(i, "/readyz", roots, cert)
		if err != nil {
			return err
		}
		if status != http.StatusOK || string(body) != "ok" {
			return fmt.Errorf("/readyz: %d %s", status, body)
		}
		return nil
	})
}
