package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
)

// testNodeConfiguration: a node's configuration is stored with compare-and-set and followed by
// the running node. One follower is told to keep time with the other follower instead of the
// cluster's reference, and reports that server and the configuration version it follows; a
// stale write, an invalid one and a dry run change nothing. The node is put back as it was.
func testNodeConfiguration(t *testing.T, c *testCluster) {
	ctx := callContext(t)
	nodes, err := listNodes(ctx, c.mgmt)
	if err != nil {
		t.Fatal(err)
	}
	var followers []*apb.Node
	for _, n := range nodes {
		if !n.GetStatus().GetTimeSync().GetReference() {
			followers = append(followers, n)
		}
	}
	if len(followers) != 2 {
		t.Fatalf("%d nodes follow the time reference, want 2", len(followers))
	}
	node, server := followers[0], followers[1]
	serverAddr := net.JoinHostPort(server.GetStatus().GetExternalAddress(), "123")

	get := func() *apb.GetNodeConfigurationResponse {
		t.Helper()
		res, err := c.mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: node.Id})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	before := get().GetStored()
	want := &apb.NodeConfiguration{NtpServers: []string{server.GetStatus().GetExternalAddress()}}
	res, err := c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: before.GetVersion(), Configuration: want})
	if err != nil {
		t.Fatalf("configure node %s: %v", node.Id, err)
	}
	version := res.GetStored().GetVersion()
	t.Logf("node %s at configuration version %d: NTP server %s", node.Id, version, serverAddr)
	start := time.Now()
	eventually.Pass(t, 2*time.Minute, fmt.Sprintf("node %s to report following configuration version %d and time server %s", node.Id, version, serverAddr), func(ctx context.Context) error {
		n, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: node.Id})
		if err != nil {
			return err
		}
		if got := n.GetStatus().GetConfiguration().GetNodeVersion(); got != version {
			return fmt.Errorf("follows configuration version %d", got)
		}
		if ts := n.GetStatus().GetTimeSync(); ts.GetServer() != serverAddr || ts.GetStratum() != 11 {
			return fmt.Errorf("time from %q at stratum %d, want %s at 11 (a follower of the reference)", ts.GetServer(), ts.GetStratum(), serverAddr)
		}
		return nil
	})
	t.Logf("configuration applied and a time answer from %s reported after %.1fs", serverAddr, time.Since(start).Seconds())

	t.Run("a stale, an invalid and a dry-run change leave it as it is", func(t *testing.T) {
		other := &apb.NodeConfiguration{NtpServers: []string{"ntp.example.com"}}
		_, err := c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: before.GetVersion(), Configuration: other})
		if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "read it again") {
			t.Errorf("stale write: got %v, want Aborted telling to read again", err)
		}
		_, err = c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: version,
			Configuration: &apb.NodeConfiguration{Kubelet: &apb.KubeletConfiguration{EvictionHard: map[string]string{"memory.available": "lots"}}}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "configuration.kubelet.eviction_hard[memory.available]") {
			t.Errorf("invalid write: got %v, want InvalidArgument naming the field", err)
		}
		dry, err := c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: version, Configuration: other, DryRun: true})
		if err != nil || !dry.GetChanged() {
			t.Errorf("dry run: got %v, %v", dry, err)
		}
		if got := get().GetStored(); got.GetVersion() != version || !proto.Equal(got.GetConfiguration(), want) {
			t.Errorf("stored configuration changed: %v", got)
		}
	})

	t.Run("a trial is followed and confirmed; one left unconfirmed reverts by itself", func(t *testing.T) {
		reports := func(what string, check func(*apb.NodeConfigurationStatus) error) time.Duration {
			t.Helper()
			return eventually.Pass(t, 2*time.Minute, fmt.Sprintf("node %s to report %s", node.Id, what), func(ctx context.Context) error {
				n, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: node.Id})
				if err != nil {
					return err
				}
				return check(n.GetStatus().GetConfiguration())
			})
		}
		const try = 10 * time.Second // the shortest the curator takes
		trial := &apb.NodeConfiguration{NtpServers: []string{server.GetStatus().GetExternalAddress(), "ntp.example.com"}}
		if _, err := c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: version, Configuration: trial,
			TryDuration: durationpb.New(try)}); err != nil {
			t.Fatal(err)
		}
		d := reports(fmt.Sprintf("trial %d", version+1), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetTrialVersion() != version+1 {
				return fmt.Errorf("it runs trial %d", cs.GetTrialVersion())
			}
			return nil
		})
		t.Logf("ConfigureNode (trial) → the node reports it: %.1fs", d.Seconds())
		if _, err := c.mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: node.Id, Version: version + 1}); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		version++
		reports(fmt.Sprintf("version %d without a trial", version), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetNodeVersion() != version || cs.GetTrialVersion() != 0 {
				return fmt.Errorf("it follows version %d, trial %d", cs.GetNodeVersion(), cs.GetTrialVersion())
			}
			return nil
		})

		start := time.Now()
		if _, err := c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: version, Configuration: want,
			TryDuration: durationpb.New(try)}); err != nil {
			t.Fatal(err)
		}
		reports(fmt.Sprintf("trial %d", version+1), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetTrialVersion() != version+1 {
				return fmt.Errorf("it runs trial %d", cs.GetTrialVersion())
			}
			return nil
		})
		reports(fmt.Sprintf("trial %d reverted", version+1), func(cs *apb.NodeConfigurationStatus) error {
			if cs.GetTrialVersion() != 0 || cs.GetNodeVersion() != version || !strings.Contains(cs.GetReverted(), fmt.Sprintf("trial version %d reverted", version+1)) {
				return fmt.Errorf("it follows version %d, trial %d, reverted %q", cs.GetNodeVersion(), cs.GetTrialVersion(), cs.GetReverted())
			}
			return nil
		})
		t.Logf("a %v trial left unconfirmed → the node reports it reverted: %.1fs", try, time.Since(start).Seconds())
		_, err := c.mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: node.Id, Version: version + 1})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "expired") {
			t.Errorf("confirming the expired trial: %v, want FailedPrecondition saying it expired", err)
		}
	})

	t.Run("back to the cluster's time reference", func(t *testing.T) {
		res, err := c.mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{NodeId: node.Id, ExpectedVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		eventually.Pass(t, 2*time.Minute, fmt.Sprintf("node %s to follow the reference again", node.Id), func(ctx context.Context) error {
			n, err := c.mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: node.Id})
			if err != nil {
				return err
			}
			if got := n.GetStatus().GetConfiguration().GetNodeVersion(); got != res.GetStored().GetVersion() {
				return fmt.Errorf("follows configuration version %d", got)
			}
			if ts := n.GetStatus().GetTimeSync(); ts.GetStratum() != 10 {
				return fmt.Errorf("time from %q at stratum %d, want the reference's 10", ts.GetServer(), ts.GetStratum())
			}
			return nil
		})
	})
}

// testAttestationRefused: hosted nodes have no TPM, so a hosted cluster cannot be made to
// require attestation: the curator refuses, naming every node and why, and nothing changes.
func testAttestationRefused(t *testing.T, c *testCluster) {
	ctx := callContext(t)
	nodes, err := listNodes(ctx, c.mgmt)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.mgmt.GetClusterConfiguration(ctx, &apb.GetClusterConfigurationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{
		ExpectedVersion: before.GetStored().GetVersion(),
		UpdateMask:      &fieldmaskpb.FieldMask{Paths: []string{"attestation.required"}},
		Configuration:   &apb.ClusterConfiguration{Attestation: &apb.ClusterAttestation{Required: true}},
	})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("requiring attestation of hosted nodes: %v, want FailedPrecondition", err)
	}
	for _, n := range nodes {
		if !strings.Contains(err.Error(), n.GetId()+" (no TPM)") {
			t.Errorf("the refusal does not name node %s as having no TPM: %v", n.GetId(), err)
		}
	}
	after, err := c.mgmt.GetClusterConfiguration(ctx, &apb.GetClusterConfigurationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(after.GetStored(), before.GetStored()) {
		t.Errorf("the cluster's configuration changed: %v", after.GetStored())
	}
}
