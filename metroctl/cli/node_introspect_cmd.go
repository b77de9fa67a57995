package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// introspectCommand builds a read-only command NAME NODE_ID that calls the node's management
// API once and prints the answer as a table (table) or as JSON or YAML.
func (s *session) introspectCommand(name, short string, call func(context.Context, apb.NodeManagementClient) (proto.Message, error), table func(io.Writer, proto.Message) error) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:               name + " NODE_ID",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			conn, address, err := s.dialForIntrospection(ctx, args[0], name)
			if err != nil {
				return err
			}
			defer conn.Close()
			msg, err := call(ctx, apb.NewNodeManagementClient(conn))
			if err != nil {
				return explain(fmt.Sprintf("%s of node %s at %s", name, args[0], address), err)
			}
			if format != outputTable {
				return writeProto(cmd.OutOrStdout(), format, msg)
			}
			return table(cmd.OutOrStdout(), msg)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (s *session) dialForIntrospection(ctx context.Context, id, what string) (*grpc.ClientConn, string, error) {
	if err := identity.ValidateNodeID(id); err != nil {
		return nil, "", err
	}
	c, err := s.loadContext()
	if err != nil {
		return nil, "", err
	}
	return dialNodeManagement(ctx, c, id, s.app.NodeManagementPort, what+" of node "+id)
}

func (s *session) nodeIntrospectionCommands() []*cobra.Command {
	ps := s.introspectCommand("ps", "List a node's processes: CPU time, memory, pod",
		func(ctx context.Context, nm apb.NodeManagementClient) (proto.Message, error) {
			return nm.GetProcesses(ctx, &apb.GetProcessesRequest{})
		},
		func(w io.Writer, m proto.Message) error { return writeProcesses(w, m.(*apb.GetProcessesResponse), nil) })
	memory := s.introspectCommand("memory", "Show a node's memory and CPU, memory and I/O pressure",
		func(ctx context.Context, nm apb.NodeManagementClient) (proto.Message, error) {
			return nm.GetMemory(ctx, &apb.GetMemoryRequest{})
		},
		func(w io.Writer, m proto.Message) error { return writeMemory(w, m.(*apb.GetMemoryResponse)) })
	df := s.introspectCommand("df", "Show a node's mounts with their size and free space",
		func(ctx context.Context, nm apb.NodeManagementClient) (proto.Message, error) {
			return nm.GetMounts(ctx, &apb.GetMountsRequest{})
		},
		func(w io.Writer, m proto.Message) error { return writeMounts(w, m.(*apb.GetMountsResponse)) })
	network := s.introspectCommand("network", "Show a node's interfaces, routes and nftables tables",
		func(ctx context.Context, nm apb.NodeManagementClient) (proto.Message, error) {
			return nm.GetNetwork(ctx, &apb.GetNetworkRequest{})
		},
		func(w io.Writer, m proto.Message) error { return writeNetwork(w, m.(*apb.GetNetworkResponse)) })
	sockets := s.introspectCommand("sockets", "List a node's TCP and UDP sockets, as ss -tuan does",
		func(ctx context.Context, nm apb.NodeManagementClient) (proto.Message, error) {
			return nm.GetNetwork(ctx, &apb.GetNetworkRequest{})
		},
		func(w io.Writer, m proto.Message) error { return writeSockets(w, m.(*apb.GetNetworkResponse).Sockets) })
	return []*cobra.Command{ps, memory, df, network, sockets, s.nodeTopCommand(), s.nodePcapCommand()}
}

// nodeTopCommand refreshes a node's busiest processes every interval, as top does.
func (s *session) nodeTopCommand() *cobra.Command {
	var interval time.Duration
	var iterations, lines int
	cmd := &cobra.Command{
		Use:               "top NODE_ID [--interval 2s] [--iterations N] [--lines 20]",
		Short:             "Show a node's busiest processes and its memory, refreshed until interrupted",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval < 100*time.Millisecond {
				return fmt.Errorf("--interval %v: want at least 100ms", interval)
			}
			if iterations < 0 || lines < 1 {
				return fmt.Errorf("--iterations %d, --lines %d: want iterations 0 (until interrupted) or more, and at least one line", iterations, lines)
			}
			ctx := cmd.Context()
			dialCtx, cancel := s.timed(ctx)
			defer cancel()
			conn, address, err := s.dialForIntrospection(dialCtx, args[0], "top")
			if err != nil {
				return err
			}
			defer conn.Close()
			nm := apb.NewNodeManagementClient(conn)
			sample := func() (*apb.GetProcessesResponse, *apb.GetMemoryResponse, error) {
				callCtx, cancel := s.timed(ctx)
				defer cancel()
				procs, err := nm.GetProcesses(callCtx, &apb.GetProcessesRequest{})
				if err != nil {
					return nil, nil, explain("top of node "+args[0]+" at "+address, err)
				}
				mem, err := nm.GetMemory(callCtx, &apb.GetMemoryRequest{})
				if err != nil {
					return nil, nil, explain("top of node "+args[0]+" at "+address, err)
				}
				return procs, mem, nil
			}
			prev, _, err := sample()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(cmd.ErrOrStderr(), "Sampling node %s every %v…\n", args[0], interval)
			for i := 0; iterations == 0 || i < iterations; i++ {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
				cur, mem, err := sample()
				if err != nil {
					return err
				}
				if isTerminal(out) {
					fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear screen
				}
				fmt.Fprintf(out, "node %s  %s  %d CPUs  memory %s of %s available\n\n", args[0],
					cur.Time.AsTime().Local().Format(time.TimeOnly), cur.Cpus, humanBytes(mem.AvailableBytes), humanBytes(mem.TotalBytes))
				rates := cpuRates(prev, cur)
				procs := slices.Clone(cur.Processes)
				slices.SortStableFunc(procs, func(a, b *apb.Process) int {
					return cmp.Or(cmp.Compare(rates[b.Pid], rates[a.Pid]), cmp.Compare(b.ResidentBytes, a.ResidentBytes))
				})
				if err := writeProcesses(out, &apb.GetProcessesResponse{Processes: procs[:min(lines, len(procs))]}, rates); err != nil {
					return err
				}
				prev = cur
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between samples")
	cmd.Flags().IntVar(&iterations, "iterations", 0, "stop after this many refreshes (0: until interrupted)")
	cmd.Flags().IntVar(&lines, "lines", 20, "how many processes to show")
	return cmd
}

// cpuRates is each process's CPU use between two samples, in percent of one CPU; processes
// that started in between count from zero. A PID reused by a new process (a later start time)
// counts from zero too.
func cpuRates(prev, cur *apb.GetProcessesResponse) map[int32]float64 {
	elapsed := cur.GetTime().AsTime().Sub(prev.GetTime().AsTime()).Seconds()
	rates := make(map[int32]float64, len(cur.GetProcesses()))
	if elapsed <= 0 {
		return rates
	}
	before := make(map[int32]*apb.Process, len(prev.GetProcesses()))
	for _, p := range prev.GetProcesses() {
		before[p.Pid] = p
	}
	for _, p := range cur.GetProcesses() {
		used := p.CpuSeconds
		if b, ok := before[p.Pid]; ok && b.GetStarted().AsTime().Equal(p.GetStarted().AsTime()) {
			used -= b.CpuSeconds
		}
		rates[p.Pid] = max(used, 0) / elapsed * 100
	}
	return rates
}

// writeProcesses writes processes as a table; with rates, a CPU% column first.
func writeProcesses(w io.Writer, res *apb.GetProcessesResponse, rates map[int32]float64) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "PID\tPPID\tS\tCPU TIME\tRSS\tTHREADS\tPOD\tCOMMAND"
	if rates != nil {
		header = "CPU%\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, p := range res.Processes {
		command := strings.Join(p.CommandLine, " ")
		if command == "" {
			command = "[" + p.Name + "]"
		}
		if len(command) > 100 {
			command = command[:100] + "…"
		}
		pod := p.PodUid
		if pod == "" {
			pod = "-"
		}
		row := fmt.Sprintf("%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s", p.Pid, p.ParentPid, p.State,
			(time.Duration(p.CpuSeconds * float64(time.Second))).Round(time.Second/10), humanBytes(p.ResidentBytes), p.Threads, pod, command)
		if rates != nil {
			row = fmt.Sprintf("%.1f\t", rates[p.Pid]) + row
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

func writeMemory(w io.Writer, m *apb.GetMemoryResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"Total", humanBytes(m.TotalBytes)}, {"Available", humanBytes(m.AvailableBytes)}, {"Free", humanBytes(m.FreeBytes)},
		{"Buffers", humanBytes(m.BuffersBytes)}, {"Cached", humanBytes(m.CachedBytes)},
		{"Swap", humanBytes(m.SwapTotalBytes) + " (" + humanBytes(m.SwapFreeBytes) + " free)"},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	fmt.Fprintln(tw, "\nPRESSURE\tSOME avg10/60/300\tFULL avg10/60/300")
	for _, p := range []struct {
		name string
		p    *apb.Pressure
	}{{"cpu", m.CpuPressure}, {"memory", m.MemoryPressure}, {"io", m.IoPressure}} {
		if p.p == nil {
			fmt.Fprintf(tw, "%s\t-\t-\n", p.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.name, stallText(p.p.Some), stallText(p.p.Full))
	}
	return tw.Flush()
}

func stallText(s *apb.PressureStall) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f%% %.2f%% %.2f%%", s.Avg10, s.Avg60, s.Avg300)
}

// writeMounts writes the mounts that have a size, as df does.
func writeMounts(w io.Writer, res *apb.GetMountsResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MOUNTED ON\tFILESYSTEM\tSOURCE\tSIZE\tUSED\tAVAILABLE\tUSE%\tMODE")
	for _, m := range res.Mounts {
		if m.SizeBytes == 0 {
			continue
		}
		used := m.SizeBytes - m.FreeBytes
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d%%\t%s\n", m.MountPoint, m.Filesystem, m.Source,
			humanBytes(m.SizeBytes), humanBytes(used), humanBytes(m.AvailableBytes), used*100/m.SizeBytes, mode)
	}
	return tw.Flush()
}

// writeNetwork writes the interfaces, routes and nftables tables as three tables.
func writeNetwork(w io.Writer, res *apb.GetNetworkResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tTYPE\tSTATE\tMTU\tADDRESSES\tRX\tTX\tERRORS/DROPPED")
	for _, i := range res.Interfaces {
		state := linkState(i)
		addrs := strings.Join(i.Addresses, ",")
		if addrs == "" {
			addrs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d/%d\n", i.Name, i.Type, state, i.Mtu, addrs,
			humanBytes(i.ReceiveBytes), humanBytes(i.TransmitBytes), i.ReceiveErrors+i.TransmitErrors, i.ReceiveDropped+i.TransmitDropped)
	}
	fmt.Fprintln(tw, "\nROUTE\tVIA\tINTERFACE\tTABLE\tMETRIC\tSOURCE")
	for _, r := range res.Routes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", r.Destination, orDash(r.Gateway), orDash(r.Interface), r.Table, r.Metric, orDash(r.Source))
	}
	fmt.Fprintln(tw, "\nNFTABLES TABLE\tCHAINS\tRULES\tSETS")
	for _, t := range res.Nftables {
		fmt.Fprintf(tw, "%s %s\t%d\t%d\t%d\n", t.Family, t.Name, t.Chains, t.Rules, t.Sets)
	}
	return tw.Flush()
}

// linkState says whether i is up and has carrier, and of what it is a member: "up", "up, no
// carrier", "up, in bond0 (active)".
func linkState(i *apb.NetworkInterface) string {
	state := "down"
	if i.Up {
		state = "up"
		if !i.Carrier {
			state += ", no carrier"
		}
	}
	if i.Master != "" {
		state += ", in " + i.Master
		if i.BondState != "" {
			state += " (" + i.BondState + ")"
		}
	}
	return state
}

// writeSockets writes sockets as ss -tuan does, listening ones first.
func writeSockets(w io.Writer, sockets []*apb.Socket) error {
	sockets = slices.Clone(sockets)
	slices.SortStableFunc(sockets, func(a, b *apb.Socket) int {
		return cmp.Or(cmp.Compare(socketRank(a), socketRank(b)), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Local, b.Local))
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROTO\tSTATE\tRECV-Q\tSEND-Q\tLOCAL\tPEER")
	for _, s := range sockets {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", s.Protocol, s.State, s.ReceiveQueue, s.SendQueue, s.Local, s.Remote)
	}
	return tw.Flush()
}

// socketRank puts listening (and unconnected UDP) sockets before connections.
func socketRank(s *apb.Socket) int {
	if s.State == "LISTEN" || s.State == "UNCONN" {
		return 0
	}
	return 1
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// humanBytes renders n in binary units with one decimal.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// isTerminal says whether w is a terminal, where top redraws in place rather than appending.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
