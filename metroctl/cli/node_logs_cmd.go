package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/identity"
)

// logsOptions are the flags of node logs.
type logsOptions struct {
	follow   bool
	exact    bool
	dn       string
	backlog  int64
	severity string
}

// request turns the flags into a GetLogs request.
func (o logsOptions) request() (*apb.GetLogsRequest, error) {
	req := &apb.GetLogsRequest{
		Dn:         o.dn,
		StreamMode: apb.GetLogsRequest_STREAM_MODE_DISABLE,
		Filter:     &apb.LogFilter{WithChildren: !o.exact},
	}
	if o.follow {
		req.StreamMode = apb.GetLogsRequest_STREAM_MODE_UNBUFFERED
	}
	switch {
	case o.backlog < 0:
		req.BacklogMode = apb.GetLogsRequest_BACKLOG_MODE_ALL
	case o.backlog == 0:
		if !o.follow {
			return nil, errors.New("--backlog 0 without --follow would show nothing")
		}
		req.BacklogMode = apb.GetLogsRequest_BACKLOG_MODE_NONE
	default:
		req.BacklogMode = apb.GetLogsRequest_BACKLOG_MODE_COUNT
		req.BacklogCount = o.backlog
	}
	if o.severity != "" {
		sev, err := parseSeverity(o.severity)
		if err != nil {
			return nil, fmt.Errorf("--severity: %w", err)
		}
		req.Filter.MinimumSeverity = sev
	}
	return req, nil
}

func (s *session) nodeLogsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs NODE_ID [-f] [--dn DN] [--backlog N] [--severity LEVEL]",
		Short: "Print a node's logs",
		Long: "Prints the logs of a node's log tree, by default everything below root. The node's\n" +
			"address comes from the cluster; its management service is dialed directly.\n" +
			"With -f the command keeps printing new entries until interrupted; --timeout then\n" +
			"applies only to setting up the stream.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			req, err := o.request()
			if err != nil {
				return err
			}
			action := "read logs of node " + id
			c, err := s.loadContext()
			if err != nil {
				return err
			}

			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			conn, address, err := dialNodeManagement(ctx, c, id, s.app.NodeManagementPort, action)
			if err != nil {
				return err
			}
			defer conn.Close()

			streamCtx := ctx
			if o.follow {
				streamCtx = cmd.Context()
			}
			stream, err := apb.NewNodeManagementClient(conn).GetLogs(streamCtx, req)
			if err != nil {
				return explain(fmt.Sprintf("%s at %s", action, address), err)
			}
			for {
				res, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					if o.follow && cmd.Context().Err() != nil {
						return nil // interrupted by the operator
					}
					return explain(fmt.Sprintf("%s at %s", action, address), err)
				}
				if err := s.printLogEntries(cmd.OutOrStdout(), res.BacklogEntries, res.StreamEntries); err != nil {
					return err
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new entries until interrupted")
	f.BoolVar(&o.exact, "exact", false, "only entries of --dn itself, not of the DNs below it")
	f.StringVar(&o.dn, "dn", "", "log tree node to read, e.g. root.network (default: root)")
	f.Int64Var(&o.backlog, "backlog", -1, "how many stored entries to print first: -1 all, 0 none (with -f)")
	f.StringVar(&o.severity, "severity", "", "only leveled entries at least this severe: INFO, WARNING, ERROR, FATAL")
	mustRegisterCompletion(cmd, "severity", cobra.FixedCompletions([]string{"INFO", "WARNING", "ERROR", "FATAL"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (s *session) printLogEntries(w io.Writer, lists ...[]*apb.LogEntry) error {
	for _, list := range lists {
		for _, e := range list {
			for _, line := range formatLogEntry(e, s.app.Location) {
				if _, err := fmt.Fprintln(w, line); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// dialNodeManagement finds the node's address at the cluster and dials its management
// service as the owner, checking that the server there is that node.
func dialNodeManagement(ctx context.Context, c *config.Context, id string, port int, action string) (*grpc.ClientConn, string, error) {
	cluster, err := connect.Cluster(ctx, c)
	if err != nil {
		return nil, "", explain(action, err)
	}
	defer cluster.Close()
	if err := connect.WaitForLeader(ctx, c, cluster); err != nil {
		return nil, "", explain(action, err)
	}
	n, err := apb.NewManagementClient(cluster).GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		return nil, "", explain(action, err)
	}
	host := n.GetStatus().GetExternalAddress()
	if host == "" {
		return nil, "", fmt.Errorf("%s: the node has not reported an address (it is %s)", action, stateText(n.State))
	}
	address := net.JoinHostPort(host, strconv.Itoa(port))
	conn, err := connect.Node(ctx, c, id, address)
	if err != nil {
		return nil, "", explain(action, err)
	}
	return conn, address, nil
}
