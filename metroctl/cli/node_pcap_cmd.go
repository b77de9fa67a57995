package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// nodePcapCommand captures packets on a node's interface into a pcap file.
func (s *session) nodePcapCommand() *cobra.Command {
	var filter, output string
	var duration time.Duration
	var count, maxBytes int64
	var snap int32
	cmd := &cobra.Command{
		Use:   "pcap NODE_ID INTERFACE -o FILE [-f FILTER] [--duration 10s] [--count N]",
		Short: "Capture packets on a node's interface into a pcap file (tcpdump, Wireshark)",
		Long: "Captures what INTERFACE sends and receives on the node, filtered as tcpdump would\n" +
			"(-f 'tcp port 80 and host 10.0.0.5': protocols, host, net, port, portrange, src/dst,\n" +
			"and/or/not), until --duration (at most 5m), --count packets or --max-bytes, and writes\n" +
			"the pcap file to FILE ('-': standard output). Progress goes to standard error.",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return errors.New("-o FILE is required ('-' for standard output): a pcap file is binary")
			}
			req := &apb.CapturePacketsRequest{Interface: args[1], Filter: filter, MaxPackets: count, MaxBytes: maxBytes, SnapLength: snap}
			if duration != 0 {
				req.Duration = durationpb.New(duration)
			}
			// The call lasts as long as the capture, plus the time to connect.
			ctx := cmd.Context()
			dialCtx, cancel := s.timed(ctx)
			defer cancel()
			conn, address, err := s.dialForIntrospection(dialCtx, args[0], "pcap")
			if err != nil {
				return err
			}
			defer conn.Close()
			stream, err := apb.NewNodeManagementClient(conn).CapturePackets(ctx, req)
			if err != nil {
				return explain("capture on node "+args[0]+" at "+address, err)
			}
			var file []byte
			progress := cmd.ErrOrStderr()
			fmt.Fprintf(progress, "Capturing on %s of node %s…\n", args[1], args[0])
			lastReport := time.Now()
			var summary *apb.CaptureSummary
			for summary == nil {
				res, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return errors.New("the node ended the capture without a summary")
				}
				if err != nil {
					return explain("capture on node "+args[0]+" at "+address, err)
				}
				file = append(file, res.Pcap...)
				summary = res.Summary
				if time.Since(lastReport) > 2*time.Second {
					fmt.Fprintf(progress, "  %s of capture so far\n", humanBytes(uint64(len(file))))
					lastReport = time.Now()
				}
			}
			if output == "-" {
				if _, err := cmd.OutOrStdout().Write(file); err != nil {
					return err
				}
			} else if err := atomicfile.Write(output, file, 0o600); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			fmt.Fprintf(progress, "%d packets (%s), ended by %s, %d dropped by the kernel; written to %s\n",
				summary.Packets, humanBytes(uint64(summary.Bytes)), summary.EndedBy, summary.Dropped, output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&filter, "filter", "f", "", "tcpdump-style filter; empty: every packet")
	cmd.Flags().StringVarP(&output, "output", "o", "", "the pcap file to write ('-': standard output)")
	cmd.Flags().DurationVar(&duration, "duration", 0, "how long to capture (0: the node's default, 10s; at most 5m)")
	cmd.Flags().Int64Var(&count, "count", 0, "stop after this many packets (0: 10,000)")
	cmd.Flags().Int64Var(&maxBytes, "max-bytes", 0, "stop after this many bytes of packets (0: 64 MiB)")
	cmd.Flags().Int32Var(&snap, "snap-length", 0, "keep at most this many bytes of each packet (0: all)")
	return cmd
}
