package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
)

// nodeFigures is what `cluster status` asked one node about itself, or why it could not.
type nodeFigures struct {
	status *apb.GetStatusResponse
	memory *apb.GetMemoryResponse
	data   *apb.Mount // the data partition's mount, nil if the node has none
	err    error
}

// statusPerNodeTimeout bounds the questions to one node, so that one unreachable node costs
// the command this much and no more.
const statusPerNodeTimeout = 10 * time.Second

func (s *session) clusterStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Summarize every node: health, roles, version, etcd, Kubernetes Ready, memory, data partition use, pressure",
		Long: "Lists the cluster's nodes as the curator knows them (state, health, roles, version)\n" +
			"and asks each UP node, all at once, for its etcd member (leader or follower, Raft\n" +
			"term), its Kubernetes Node's Ready condition, its memory and data partition; a node\n" +
			"that does not answer within 10 s shows why instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := s.loadContext()
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("cluster status", err)
			}
			defer done()
			nodes, err := listNodes(ctx, mgmt, nil)
			if err != nil {
				return explain("cluster status", err)
			}
			figures := make([]nodeFigures, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				if n.State != apb.NodeState_NODE_STATE_UP || n.GetStatus().GetExternalAddress() == "" {
					continue
				}
				wg.Go(func() { figures[i] = askNode(ctx, c, n, s.app.NodeManagementPort) })
			}
			wg.Wait()
			return writeClusterStatus(cmd.OutOrStdout(), nodes, figures)
		},
	}
}

// askNode asks one node for its memory and mounts.
func askNode(ctx context.Context, c *config.Context, n *apb.Node, port int) nodeFigures {
	ctx, cancel := context.WithTimeout(ctx, statusPerNodeTimeout)
	defer cancel()
	conn, err := connect.Node(ctx, c, n.Id, net.JoinHostPort(n.GetStatus().GetExternalAddress(), strconv.Itoa(port)))
	if err != nil {
		return nodeFigures{err: err}
	}
	defer conn.Close()
	nm := apb.NewNodeManagementClient(conn)
	status, err := nm.GetStatus(ctx, &apb.GetStatusRequest{})
	if err != nil {
		return nodeFigures{err: err}
	}
	mem, err := nm.GetMemory(ctx, &apb.GetMemoryRequest{})
	if err != nil {
		return nodeFigures{err: err}
	}
	mounts, err := nm.GetMounts(ctx, &apb.GetMountsRequest{})
	if err != nil {
		return nodeFigures{err: err}
	}
	return nodeFigures{status: status, memory: mem, data: dataMount(mounts.Mounts)}
}

// dataMount is the mount of the node's data partition: /data on the image; the largest
// writable filesystem elsewhere (a hosted node's state directory lives on the host's).
func dataMount(mounts []*apb.Mount) *apb.Mount {
	var best *apb.Mount
	for _, m := range mounts {
		if m.MountPoint == "/data" {
			return m
		}
		if !m.ReadOnly && m.SizeBytes > 0 && (best == nil || m.SizeBytes > best.SizeBytes) {
			best = m
		}
	}
	return best
}

// writeClusterStatus writes one line per node.
func writeClusterStatus(w io.Writer, nodes []*apb.Node, figures []nodeFigures) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tHEALTH\tROLES\tVERSION\tETCD\tKUBERNETES\tMEMORY AVAILABLE\tDATA USED\tPRESSURE cpu/mem/io (avg10)")
	for i, n := range nodes {
		memory, data, pressure := "-", "-", "-"
		etcd, kube := etcdText(figures[i].status.GetConsensus()), kubernetesText(figures[i].status.GetKubernetesNode())
		switch f := figures[i]; {
		case f.err != nil:
			memory = "unreachable: " + boundText(f.err.Error(), 80)
		case f.memory != nil:
			memory = fmt.Sprintf("%s of %s", humanBytes(f.memory.AvailableBytes), humanBytes(f.memory.TotalBytes))
			pressure = fmt.Sprintf("%s/%s/%s", avg10(f.memory.CpuPressure), avg10(f.memory.MemoryPressure), avg10(f.memory.IoPressure))
			if d := f.data; d != nil && d.SizeBytes > 0 {
				data = fmt.Sprintf("%d%% of %s", (d.SizeBytes-d.FreeBytes)*100/d.SizeBytes, humanBytes(d.SizeBytes))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Id, stateText(n.State), healthText(n.Health), rolesText(n.Roles, ","),
			versionText(n.GetStatus().GetSoftware()), etcd, kube, memory, data, pressure)
	}
	return tw.Flush()
}

// etcdText says what a node's etcd member is: leader or follower and in which Raft term (a
// term that rises between two looks means an election), "-" where it runs none.
func etcdText(c *apb.ConsensusMemberStatus) string {
	switch {
	case c == nil:
		return "-"
	case c.Error != "":
		return "no answer"
	case c.LeaderId == "":
		return "no leader"
	case c.LeaderId == c.MemberId:
		return fmt.Sprintf("leader (term %d)", c.RaftTerm)
	default:
		return fmt.Sprintf("follower (term %d)", c.RaftTerm)
	}
}

// kubernetesText is a node's Kubernetes Ready condition, with the reason when it is not Ready;
// "-" where the node runs no worker.
func kubernetesText(k *apb.KubernetesNodeStatus) string {
	switch {
	case k == nil:
		return "-"
	case k.Error != "":
		return "unknown"
	case k.Ready:
		return "Ready"
	case k.Reason != "":
		return "NotReady (" + boundText(k.Reason, 40) + ")"
	default:
		return "NotReady"
	}
}

func avg10(p *apb.Pressure) string {
	if p.GetSome() == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", p.GetSome().GetAvg10())
}

// boundText cuts s to n bytes, marking the cut.
func boundText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
