package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/k8s"
	"metropolis.dev/metropolis/node/kubernetes/apiproxy"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

func (s *session) k8sCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "k8s",
		Short: "Use the cluster's Kubernetes with kubectl",
		Long: "Kubernetes access as the cluster owner (user metropolis:owner, a cluster-admin).\n\n" +
			"'configure' adds a context to your kubeconfig whose credentials come from\n" +
			"'metroctl k8s credential' (a 1-hour client certificate, kept in the metroctl context\n" +
			"and reused until 10 minutes before it expires). It points at\n" +
			"a local 'metroctl k8s proxy' that the credential plugin starts when it is not\n" +
			"running, which passes connections on to any controller that answers: kubectl keeps\n" +
			"working when a controller goes away. --direct names one controller instead.",
	}
	cmd.AddCommand(s.k8sConfigureCommand(), s.k8sCredentialCommand(), s.k8sProxyCommand())
	return cmd
}

// kubernetesCredential asks the curator for an owner certificate for a new key.
func (s *session) kubernetesCredential(ctx context.Context) (*apb.GetKubernetesCredentialResponse, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return nil, nil, explain("get a Kubernetes credential", err)
	}
	defer done()
	res, err := mgmt.GetKubernetesCredential(ctx, &apb.GetKubernetesCredentialRequest{PublicKey: pub})
	if err != nil {
		return nil, nil, explain("get a Kubernetes credential", err)
	}
	return res, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func (s *session) k8sConfigureCommand() *cobra.Command {
	var path, proxy string
	var direct bool
	cmd := &cobra.Command{
		Use:   "configure [--kubeconfig PATH] [--proxy HOST:PORT | --direct]",
		Short: "Add this cluster to your kubeconfig and make it kubectl's current context",
		Long: "Adds a cluster, user and context named metropolis-CONTEXT to the kubeconfig\n" +
			"($KUBECONFIG's first file or ~/.kube/config unless --kubeconfig is given) and makes\n" +
			"it current. The server is a local 'metroctl k8s proxy' (a port of 127.0.0.1 chosen\n" +
			"per context) that the credential plugin starts whenever kubectl runs and it is not\n" +
			"running; it passes each connection to a controller that answers, so the context\n" +
			"survives the loss of any one controller, and it ends after an hour without\n" +
			"connections. With --proxy the context uses a proxy you run yourself at HOST:PORT;\n" +
			"with --direct it names the first controller the cluster lists (no failover).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			c, err := s.loadContext()
			if err != nil {
				return err
			}
			res, _, err := s.kubernetesCredential(ctx)
			if err != nil {
				return err
			}
			ca, err := x509.ParseCertificate(res.CaCertificate)
			if err != nil {
				return fmt.Errorf("the cluster sent a Kubernetes CA that does not parse: %w", err)
			}
			entry := k8s.Entry{
				Name:  k8s.EntryName(c.Name),
				CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
			}
			if entry.Command, err = os.Executable(); err != nil {
				return fmt.Errorf("find metroctl's own path for the credential plugin: %w", err)
			}
			entry.Args = []string{"k8s", "credential", "--context", c.Name}
			switch {
			case proxy != "" && direct:
				return fmt.Errorf("--proxy and --direct exclude each other")
			case proxy != "":
				entry.Server, entry.TLSServerName = "https://"+proxy, "kubernetes"
			case direct && len(res.Endpoints) == 0:
				return fmt.Errorf("the cluster has no UP node with the KubernetesController role")
			case direct:
				entry.Server = "https://" + res.Endpoints[0]
			default:
				addr := autoProxyAddress(c.Name)
				entry.Server, entry.TLSServerName = "https://"+addr, "kubernetes"
				entry.Args = append(entry.Args, "--ensure-proxy", addr)
			}
			if s.configDir != "" {
				dir, err := filepath.Abs(s.configDir)
				if err != nil {
					return err
				}
				entry.Args = append(entry.Args, "--config-dir", dir)
			}
			if path == "" {
				if path, err = k8s.DefaultPath(s.app.Getenv); err != nil {
					return err
				}
			}
			if err := k8s.Merge(path, entry); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kubeconfig %s: context %s (server %s) is now current\n", path, entry.Name, entry.Server)
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "kubeconfig", "", "kubeconfig file to write (default $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&proxy, "proxy", "", "point the context at a 'metroctl k8s proxy' you run yourself on HOST:PORT")
	cmd.Flags().BoolVar(&direct, "direct", false, "point the context at the first controller (no failover, no local proxy)")
	return cmd
}

func (s *session) k8sCredentialCommand() *cobra.Command {
	var ensureProxy string
	var refresh bool
	cmd := &cobra.Command{
		Use:   "credential [--ensure-proxy HOST:PORT] [--refresh]",
		Short: "Print a Kubernetes ExecCredential (kubectl runs this; see 'configure')",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			if ensureProxy != "" {
				c, err := s.loadContext()
				if err != nil {
					return err
				}
				if err := s.ensureProxy(ctx, c.Name, ensureProxy); err != nil {
					return err
				}
			}
			cred, err := s.cachedKubernetesCredential(ctx, cmd.ErrOrStderr(), refresh)
			if err != nil {
				return err
			}
			out, err := cred.ExecCredential()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return err
		},
	}
	cmd.Flags().StringVar(&ensureProxy, "ensure-proxy", "", "first start a 'metroctl k8s proxy' on HOST:PORT unless one listens there")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask the cluster for a new credential even if the cached one is still good")
	return cmd
}

// cachedKubernetesCredential returns the context's cached Kubernetes credential while it is
// good for more than k8s.RefreshBefore, else (or with refresh) a new one from the curator,
// which it caches. A cache that cannot be read or written costs only the curator call: the
// reason goes to errOut (kubectl shows a plugin's stderr), and the credential is still given.
func (s *session) cachedKubernetesCredential(ctx context.Context, errOut io.Writer, refresh bool) (*k8s.CachedCredential, error) {
	st, err := s.store()
	if err != nil {
		return nil, err
	}
	c, err := st.Resolve(s.contextName)
	if err != nil {
		return nil, err
	}
	if c.CA == nil {
		return nil, fmt.Errorf("context %q pins no cluster CA yet (run metroctl cluster takeownership)", c.Name)
	}
	clusterCA := pki.Fingerprint(c.CA)
	path := st.KubernetesCredentialPath(c.Name)
	if !refresh {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			fmt.Fprintf(errOut, "metroctl: not using the cached Kubernetes credential: %v\n", err)
		default:
			cached, err := k8s.ParseCachedCredential(data)
			if err == nil {
				err = k8s.Reusable(cached, clusterCA, time.Now())
				if err == nil {
					return cached, nil
				}
			} else {
				// Only a damaged cache is worth a word; an expiring one is routine.
				fmt.Fprintf(errOut, "metroctl: replacing the cached Kubernetes credential in %s: %v\n", path, err)
			}
		}
	}
	res, keyPEM, err := s.kubernetesCredential(ctx)
	if err != nil {
		return nil, err
	}
	cred, err := k8s.NewCachedCredential(clusterCA, res.Certificate, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the cluster sent an unusable Kubernetes credential: %w", err)
	}
	data, err := cred.Marshal()
	if err == nil {
		err = atomicfile.Write(path, data, 0o600)
	}
	if err != nil {
		fmt.Fprintf(errOut, "metroctl: could not cache the Kubernetes credential (the next kubectl run asks the cluster again): %v\n", err)
	}
	return cred, nil
}

func (s *session) k8sProxyCommand() *cobra.Command {
	var listen string
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "proxy [--listen HOST:PORT]",
		Short: "Forward a local port to any reachable Kubernetes controller (failover)",
		Long: "Listens on --listen and passes each connection, still TLS end to end, to the\n" +
			"controller that answered last, or to the next one that answers. A connection to a\n" +
			"controller that stops answering is dropped within about ten seconds, so clients\n" +
			"reconnect through another. Runs until interrupted, or with --idle-exit until it\n" +
			"has had no connection for that long. 'metroctl k8s configure' sets kubectl up to\n" +
			"start one by itself; with --proxy HOST:PORT it uses one you run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			ctx := cmd.Context()
			endpoints := &controllerList{s: s}
			if _, err := endpoints.refresh(ctx); err != nil {
				l.Close()
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "proxy: listening on %s for controllers %v (pid %d)\n", l.Addr(), endpoints.get(), os.Getpid())
			p := &apiproxy.Proxy{
				Endpoints: func(context.Context) ([]string, error) { return endpoints.get(), nil },
				Log:       func(format string, args ...any) { fmt.Fprintf(out, "proxy: "+format+"\n", args...) },
				Idle:      idle,
			}
			go endpoints.follow(ctx, out)
			return p.Serve(ctx, l)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:6443", "local address to listen on")
	cmd.Flags().DurationVar(&idle, "idle-exit", 0, "end after this long without connections (0: run until interrupted)")
	return cmd
}

// controllerList is the proxy's view of the cluster's apiservers, refreshed every half minute
// (a failed refresh keeps the last list: the curator may be failing over too).
type controllerList struct {
	s    *session
	mu   sync.Mutex
	list []string
}

func (c *controllerList) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.list
}

func (c *controllerList) refresh(ctx context.Context) ([]string, error) {
	ctx, cancel := c.s.timed(ctx)
	defer cancel()
	res, _, err := c.s.kubernetesCredential(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(res.Endpoints) > 0 {
		c.list = res.Endpoints
	}
	return c.list, nil
}

func (c *controllerList) follow(ctx context.Context, out interface{ Write([]byte) (int, error) }) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
		if _, err := c.refresh(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "proxy: could not refresh the controller list (keeping %v): %v\n", c.get(), err)
		}
	}
}
