package workers

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Client loops that run while a rollout reboots nodes, as an operator's tools and a Service's
// users would, recording every failure. A request is retried once, a second later; it fails
// only if the retry fails too.

// probeInterval is how often each loop sends a request; retryAfter is how long it waits before
// its one retry, and attemptTimeout bounds one attempt.
const (
	probeInterval  = time.Second
	retryAfter     = time.Second
	attemptTimeout = 5 * time.Second
)

// probeLabel marks the ConfigMaps the write loop creates.
const probeLabel = "metropolis-test-probe"

// maxFailuresLogged bounds the failures a probe keeps the text of.
const maxFailuresLogged = 40

// probeResult is what a client loop saw.
type probeResult struct {
	requests, failedAttempts, failedRequests int
	// longestGap is the longest time between two successful requests.
	longestGap time.Duration
	// failures are the first failed attempts: when, and why.
	failures []string
	// acknowledged are the names of the objects whose creation succeeded (write loop only).
	acknowledged []string
}

func (r probeResult) String() string {
	s := fmt.Sprintf("%d requests, %d failed attempts, %d requests failed after their retry, longest gap between successes %s",
		r.requests, r.failedAttempts, r.failedRequests, r.longestGap.Round(100*time.Millisecond))
	if len(r.failures) > 0 {
		s += "; failures:\n  " + strings.Join(r.failures, "\n  ")
	}
	return s
}

// probe runs attempt every probeInterval, retrying a failed one once, until stopped.
type probe struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	result probeResult
}

// startProbe sends request i (counting from 0) with attempt, once per attempt, until stopped.
func startProbe(ctx context.Context, attempt func(ctx context.Context, i int) error) *probe {
	ctx, cancel := context.WithCancel(ctx)
	p := &probe{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		start := time.Now()
		lastOK := start
		for i := 0; ctx.Err() == nil; i++ {
			ok := false
			for try := 0; try < 2 && !ok && ctx.Err() == nil; try++ {
				if try > 0 {
					sleep(ctx, retryAfter)
				}
				actx, acancel := context.WithTimeout(ctx, attemptTimeout)
				err := attempt(actx, i)
				acancel()
				if ctx.Err() != nil {
					return // stopped mid-attempt: not the cluster's failure
				}
				p.mu.Lock()
				if err == nil {
					ok = true
					p.result.longestGap = max(p.result.longestGap, time.Since(lastOK))
					lastOK = time.Now()
				} else {
					p.result.failedAttempts++
					if len(p.result.failures) < maxFailuresLogged {
						p.result.failures = append(p.result.failures,
							fmt.Sprintf("[%6.1fs] request %d, attempt %d: %s", time.Since(start).Seconds(), i, try+1, bounded(err.Error())))
					}
				}
				p.mu.Unlock()
			}
			p.mu.Lock()
			p.result.requests++
			if !ok {
				p.result.failedRequests++
			}
			p.mu.Unlock()
			sleep(ctx, probeInterval)
		}
	}()
	return p
}

// stop ends the loop and returns what it saw.
func (p *probe) stop() probeResult {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.result
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// bounded shortens an error's text for the log.
func bounded(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// clientsetFor is a Kubernetes client using kubeconfig, credential plugin included.
func clientsetFor(kubeconfig string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kubeconfig, err)
	}
	return kubernetes.NewForConfig(cfg)
}

// writeProbe creates one ConfigMap per request, recording those acknowledged. A retry that
// finds its ConfigMap already there is acknowledged too: the first attempt stored it, only its
// answer was lost.
type writeProbe struct {
	*probe
	mu           sync.Mutex
	acknowledged []string
}

func startWriteProbe(ctx context.Context, cs *kubernetes.Clientset) *writeProbe {
	w := &writeProbe{}
	w.probe = startProbe(ctx, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("probe-%05d", i)
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{probeLabel: "write"}},
			Data:       map[string]string{"request": fmt.Sprint(i)},
		}
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
		if err == nil {
			w.mu.Lock()
			w.acknowledged = append(w.acknowledged, name)
			w.mu.Unlock()
		}
		return err
	})
	return w
}

func (w *writeProbe) stop() probeResult {
	r := w.probe.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	r.acknowledged = w.acknowledged
	return r
}

// startServiceProbe asks the Service through its NodePort, starting at a different node each
// request and going on to the next node when one fails, as a load balancer would: an attempt
// fails when no node answers.
func startServiceProbe(ctx context.Context, addresses []string) *probe {
	return startProbe(ctx, func(ctx context.Context, i int) error {
		var errs []string
		for j := range addresses {
			a := addresses[(i+j)%len(addresses)]
			if err := getServiceCtx(ctx, a); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			return nil
		}
		return fmt.Errorf("no node answered: %s", strings.Join(errs, "; "))
	})
}

// getService asks the hello Service once through address's NodePort.
func getService(address string) error {
	ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
	defer cancel()
	return getServiceCtx(ctx, address)
}

// serviceClient opens a new connection for every request, so a node that went away costs one
// attempt rather than a pooled connection's timeout.
var serviceClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
	Timeout:   2 * time.Second,
}

func getServiceCtx(ctx context.Context, address string) error {
	url := "http://" + net.JoinHostPort(address, "30080") + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := serviceClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "pod=") {
		return fmt.Errorf("%s: %s %q", url, res.Status, bounded(string(body)))
	}
	return nil
}

// checkWritesKept fails t unless every acknowledged write is in the cluster.
func checkWritesKept(t *testing.T, ctx context.Context, cs *kubernetes.Clientset, acknowledged []string) {
	list, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{LabelSelector: probeLabel + "=write"})
	if err != nil {
		t.Fatalf("list the probe's ConfigMaps: %v", err)
	}
	kept := map[string]bool{}
	for _, cm := range list.Items {
		kept[cm.Name] = true
	}
	var lost []string
	for _, name := range acknowledged {
		if !kept[name] {
			lost = append(lost, name)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged writes are lost: %s", len(lost), len(acknowledged), bounded(strings.Join(lost, " ")))
	}
	t.Logf("%d acknowledged writes, all kept (%d ConfigMaps in all)", len(acknowledged), len(list.Items))
}
