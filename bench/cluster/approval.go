package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/netns"
)

// ApprovalOptions say how to measure approval to UP.
type ApprovalOptions struct {
	// Iterations is how many nodes to register and approve, one after another.
	Iterations int
	// NodeBinary is the metropolis-node program.
	NodeBinary string
	// WorkDir holds each registering node's parameters, state and console log.
	WorkDir string
	// Poll is how often GetNode is asked whether the node is UP; it bounds the error of each
	// figure.
	Poll time.Duration
	// Jitter spreads the moment of approval: each node is approved after a random wait of up
	// to Jitter once it shows up as NEW. A node asks whether it was approved once a second
	// (node/core approvalPoll), starting when it registers; approving every node right after
	// it registers would always land at the same point of that cycle, which no operator does.
	Jitter time.Duration
	// Log receives a line per iteration; nil discards them.
	Log io.Writer
}

// MeasureApproval measures, for real node processes, the time from the return of
// Management.ApproveNode until Management.GetNode shows the node UP. It stops one node of the
// cluster that is not a consensus member and runs its own node processes in that node's
// network namespace, each a new machine (fresh state) that registers with the cluster's
// ticket and is approved once it shows up as NEW.
func MeasureApproval(ctx context.Context, c *Cluster, o ApprovalOptions) ([]time.Duration, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	slot, err := nonConsensusNode(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	if err := c.Hosted.KillNode(slot, false); err != nil {
		return nil, fmt.Errorf("approval: free node %d's namespace: %w", slot, err)
	}
	fmt.Fprintf(log, "approval: node %d stopped; fresh nodes register in its place\n", slot)
	network, err := netns.Attach(c.Hosted.Network)
	if err != nil {
		return nil, err
	}
	paramsCtx, cancel := context.WithTimeout(ctx, approvalWait)
	params, err := registerParameters(paramsCtx, c.Management)
	cancel()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var latencies []time.Duration
	for k := 1; k <= o.Iterations; k++ {
		dir := filepath.Join(o.WorkDir, fmt.Sprintf("approval%d", k))
		d, id, err := approveOne(ctx, c, network, slot, dir, params, seen, o)
		if err != nil {
			return latencies, fmt.Errorf("approval %d of %d: %w (node log: %s)", k, o.Iterations, err, filepath.Join(dir, "console.log"))
		}
		fmt.Fprintf(log, "approval %d: %s UP %s after ApproveNode returned\n", k, id, ms(d))
		latencies = append(latencies, d)
	}
	return latencies, nil
}

// nonConsensusNode finds the last node that holds no consensus member role, by the address it
// reports. (The launcher gives the role to three nodes, not necessarily to nodes 1 to 3.)
func nonConsensusNode(ctx context.Context, c *Cluster) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, approvalWait)
	defer cancel()
	nodes, err := listNodes(ctx, c.Management)
	if err != nil {
		return 0, err
	}
	for i := c.Hosted.Nodes(); i >= 1; i-- {
		for _, n := range nodes {
			if n.GetStatus().GetExternalAddress() == c.Hosted.Addresses[i-1] && !n.GetRoles().GetConsensusMember() {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("every node of the %d reporting an address is a consensus member: need one that is not", c.Hosted.Nodes())
}

// registerParameters are what `metroctl cluster launch` gives a node that is to register.
func registerParameters(ctx context.Context, mgmt apb.ManagementClient) ([]byte, error) {
	ticket, err := mgmt.GetRegisterTicket(ctx, &apb.GetRegisterTicketRequest{})
	if err != nil {
		return nil, fmt.Errorf("get register ticket: %w", err)
	}
	info, err := mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("get cluster info: %w", err)
	}
	return proto.Marshal(&apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterRegister{
		ClusterRegister: &apb.ClusterRegister{
			RegisterTicket:   ticket.Ticket,
			CaCertificate:    info.CaCertificate,
			ClusterAddresses: info.ClusterAddresses,
		},
	}})
}

// approvalWait bounds each wait of one approval: a hosted node registers within seconds.
const approvalWait = time.Minute

// approveOne starts a fresh node in the namespace of node slot, waits for it to register,
// approves it and times how long it takes to show UP. The node process is stopped before it
// returns.
func approveOne(ctx context.Context, c *Cluster, network *netns.Network, slot int, dir string, params []byte, seen map[string]bool, o ApprovalOptions) (time.Duration, string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		return 0, "", err
	}
	paramsPath := filepath.Join(dir, "parameters.pb")
	if err := os.WriteFile(paramsPath, params, 0o600); err != nil {
		return 0, "", err
	}
	console, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		return 0, "", err
	}
	defer console.Close()
	cmd := network.Command(slot, o.NodeBinary,
		"--state-dir", filepath.Join(dir, "state"),
		"--address", c.Hosted.Addresses[slot-1],
		"--parameters", paramsPath)
	cmd.Stdout, cmd.Stderr = console, console
	// Its own process group, so that ^C at the terminal reaches only the benchmark, which
	// stops the node itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, "", fmt.Errorf("start node: %w", err)
	}
	defer stopProcess(cmd)

	ctx, cancel := context.WithTimeout(ctx, approvalWait)
	defer cancel()
	id, err := waitForNewNode(ctx, c.Management, seen, o.Poll)
	if err != nil {
		return 0, "", err
	}
	seen[id] = true
	if o.Jitter > 0 {
		select {
		case <-ctx.Done():
			return 0, id, ctx.Err()
		case <-time.After(rand.N(o.Jitter)):
		}
	}
	if _, err := c.Management.ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: id}}); err != nil {
		return 0, id, fmt.Errorf("approve %s: %w", id, err)
	}
	approved := time.Now()
	for {
		n, err := c.Management.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
		if err != nil {
			return 0, id, fmt.Errorf("get node %s: %w", id, err)
		}
		if n.State == apb.NodeState_NODE_STATE_UP {
			return time.Since(approved), id, nil
		}
		select {
		case <-ctx.Done():
			return 0, id, fmt.Errorf("node %s still %s: %w", id, n.State, ctx.Err())
		case <-time.After(o.Poll):
		}
	}
}

// waitForNewNode returns the ID of a NEW node not in seen.
func waitForNewNode(ctx context.Context, mgmt apb.ManagementClient, seen map[string]bool, poll time.Duration) (string, error) {
	for {
		ids, err := nodeIDs(ctx, mgmt, apb.NodeState_NODE_STATE_NEW)
		if err != nil {
			return "", err
		}
		if i := slices.IndexFunc(ids, func(id string) bool { return !seen[id] }); i >= 0 {
			return ids[i], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no node registered: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

func nodeIDs(ctx context.Context, mgmt apb.ManagementClient, states ...apb.NodeState) ([]string, error) {
	nodes, err := listNodes(ctx, mgmt, states...)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.Id
	}
	return ids, nil
}

func listNodes(ctx context.Context, mgmt apb.ManagementClient, states ...apb.NodeState) ([]*apb.Node, error) {
	stream, err := mgmt.GetNodes(ctx, &apb.GetNodesRequest{States: states})
	if err != nil {
		return nil, fmt.Errorf("get nodes: %w", err)
	}
	var nodes []*apb.Node
	for {
		n, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nodes, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get nodes: %w", err)
		}
		nodes = append(nodes, n)
	}
}

// stopProcess ends a node process cleanly, or with SIGKILL if it has not stopped after half a
// minute.
func stopProcess(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // how it ended is in its console log
		close(done)
	}()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}
