package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// Config is what a Server needs.
type Config struct {
	// Client reads Services and EndpointSlices (list and watch, cluster-wide).
	Client kubernetes.Interface
	// Listen is the host:port to serve on, UDP and TCP both (169.254.20.10:53 on a worker;
	// port 0 picks a free port, the same for both, see Server.Addr).
	Listen string
	// AlsoListen are more host:port addresses served alike, with fixed ports (the kube-dns
	// Service's ClusterIP on a worker).
	AlsoListen []string
	// Domain is the cluster domain, "cluster.local" when empty.
	Domain string
	// Upstreams are host:port resolvers for names outside Domain, asked in order. With none,
	// such names are REFUSED. Server.SetUpstreams replaces them while the server runs.
	Upstreams []string
}

// Server is the cluster DNS server. Run serves; Addr and Ready tell callers where and when.
type Server struct {
	cfg       Config
	ready     chan struct{}
	readyOnce sync.Once
	fwd       *forwarder
	mu        sync.Mutex
	addr      net.Addr
}

// New checks cfg and returns a Server that serves it once Run.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("clusterdns: Config.Client is nil")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("clusterdns: Config.Listen %q is not host:port: %w", cfg.Listen, err)
	}
	for _, a := range cfg.AlsoListen {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			return nil, fmt.Errorf("clusterdns: Config.AlsoListen %.64q is not host:port with a fixed port", a)
		}
	}
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	cfg.Domain = strings.ToLower(dns.Fqdn(cfg.Domain))
	if n, ok := dns.IsDomainName(cfg.Domain); !ok || n < 1 || cfg.Domain == "." {
		return nil, fmt.Errorf("clusterdns: Config.Domain %q is not a domain name", cfg.Domain)
	}
	if err := checkUpstreams("Config.Upstreams", cfg.Upstreams); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, ready: make(chan struct{}), fwd: newForwarder(cfg.Upstreams)}, nil
}

// SetUpstreams replaces the resolvers names outside the domain are forwarded to (the node's
// resolvers changed); queries already forwarded finish with the old ones.
func (s *Server) SetUpstreams(upstreams []string) error {
	if err := checkUpstreams("SetUpstreams", upstreams); err != nil {
		return err
	}
	s.fwd.set(upstreams)
	return nil
}

// Upstreams returns the resolvers names outside the domain are forwarded to.
func (s *Server) Upstreams() []string { return s.fwd.list() }

func checkUpstreams(what string, upstreams []string) error {
	for i, up := range upstreams {
		host, port, err := net.SplitHostPort(up)
		if err != nil || host == "" {
			return fmt.Errorf("clusterdns: %s[%d] %q is not host:port", what, i, up)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("clusterdns: %s[%d] %q has no valid port", what, i, up)
		}
	}
	return nil
}

// Addr returns the UDP address the server listens on (TCP has the same), nil while it does
// not listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Ready is closed once the server has first answered from synced caches.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) setAddr(a net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr = a
}

// Run serves until ctx ends; it is a supervised runnable. The listeners are bound first, so
// names outside the domain are forwarded while the informers sync; it signals healthy once
// the caches are synced and cluster names are answered.
func (s *Server) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	h := &handler{
		ctx:    ctx,
		domain: s.cfg.Domain,
		fwd:    s.fwd,
		log:    &rateLimitedLog{log: logger, interval: 10 * time.Second},
	}
	var servers []*dns.Server
	var sockets []io.Closer
	// Closing the sockets also ends a server not yet started when ctx ended, which shutting
	// down does not.
	defer func() {
		s.setAddr(nil)
		for _, srv := range servers {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = srv.ShutdownContext(shutdownCtx)
			cancel()
		}
		for _, c := range sockets {
			c.Close()
		}
	}()
	var udp net.PacketConn
	for i, addr := range append([]string{s.cfg.Listen}, s.cfg.AlsoListen...) {
		u, tcp, err := listen(addr)
		if err != nil {
			return err
		}
		if i == 0 {
			udp = u
		}
		sockets = append(sockets, u, tcp)
		servers = append(servers,
			&dns.Server{PacketConn: u, Handler: h, UDPSize: dns.DefaultMsgSize},
			&dns.Server{Listener: tcp, Handler: h, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	}
	served := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { served <- srv.ActivateAndServe() }()
	}
	s.setAddr(udp.LocalAddr())
	logger.Infof("Listening on %s and %v (UDP and TCP), domain %s, upstreams %v; waiting for the Service and EndpointSlice caches",
		udp.LocalAddr(), s.cfg.AlsoListen, s.cfg.Domain, s.fwd.list())

	syncCtx, synced := context.WithCancel(ctx)
	go logWhileSyncing(syncCtx, logger.Infof)
	cat, err := startCatalog(ctx, s.cfg.Client)
	synced()
	if err != nil {
		return err
	}
	h.res.Store(&resolver{domain: s.cfg.Domain, cat: cat})
	logger.Infof("Caches synced: answering %s", s.cfg.Domain)
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	s.readyOnce.Do(func() { close(s.ready) })

	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-served:
		return fmt.Errorf("a DNS listener stopped: %w", err)
	}
}

// listen binds UDP and TCP on the same host:port. With port 0 the UDP port is taken first
// and TCP tries that same number, a few times over if another process holds it on TCP.
func listen(hostport string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, nil, fmt.Errorf("listen address %q: %w", hostport, err)
	}
	var lastErr error
	for range 10 {
		udp, err := net.ListenPacket("udp", hostport)
		if err != nil {
			return nil, nil, fmt.Errorf("binding UDP %s: %w", hostport, err)
		}
		_, boundPort, _ := net.SplitHostPort(udp.LocalAddr().String())
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, boundPort))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		lastErr = fmt.Errorf("binding TCP %s: %w", net.JoinHostPort(host, boundPort), err)
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// logWhileSyncing says every 10 s that the caches are still syncing (an apiserver that cannot
// be reached), until ctx ends.
func logWhileSyncing(ctx context.Context, infof func(string, ...any)) {
	start := time.Now()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			infof("Still waiting for the Service and EndpointSlice caches (%s); cluster names get SERVFAIL until then",
				time.Since(start).Round(time.Second))
		}
	}
}
