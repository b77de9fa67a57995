package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rpc"
)

// outcomes is the expected gRPC code of each kind of call for one kind of caller.
type outcomes struct {
	// ownerStream and ownerUnary are owner-only Management calls (GetNodes, ApproveNode of an
	// UP node, which changes nothing).
	ownerStream, ownerUnary codes.Code
	// nodeOnly is a node-only Curator call (Watch of the UP nodes).
	nodeOnly codes.Code
	// open is a call anybody may make (Discovery.GetCACertificate).
	open codes.Code
	// nodeManagement is NodeManagement.GetStatus on node 1.
	nodeManagement codes.Code
}

// securedCall is one API call made presenting cert (nil: no certificate).
type securedCall struct {
	name string
	want func(outcomes) codes.Code
	call func(ctx context.Context, c *testCluster, cert *tls.Certificate) error
}

// securedCalls are the calls of the authorization table, one per kind of permission.
func securedCalls() []securedCall {
	return []securedCall{
		{"Management.GetNodes", func(o outcomes) codes.Code { return o.ownerStream }, callGetNodes},
		{"Management.ApproveNode", func(o outcomes) codes.Code { return o.ownerUnary }, callApproveNode},
		{"Curator.Watch", func(o outcomes) codes.Code { return o.nodeOnly }, callWatch},
		{"Discovery.GetCACertificate", func(o outcomes) codes.Code { return o.open }, callGetCACertificate},
		{"NodeManagement.GetStatus", func(o outcomes) codes.Code { return o.nodeManagement }, callNodeStatus},
		{"NodeManagement.GetProcesses", func(o outcomes) codes.Code { return o.nodeManagement }, callGetProcesses},
	}
}

// testAuthorization makes every kind of call as every kind of caller and checks that each is
// let through or refused with the expected code. Node deleted has been deleted.
func testAuthorization(t *testing.T, c *testCluster, deleted int) {
	const (
		ok      = codes.OK
		unauth  = codes.Unauthenticated
		denied  = codes.PermissionDenied
		anybody = ok // the open call's outcome, the same for every caller
	)
	member := c.consensusMember(t)
	callers := []struct {
		name string
		cert *tls.Certificate
		want outcomes
	}{
		{"no certificate", nil, outcomes{unauth, unauth, unauth, anybody, unauth}},
		{"a self-signed certificate", selfSignedCredentials(t), outcomes{unauth, unauth, unauth, anybody, unauth}},
		{"an owner certificate from another CA", foreignOwnerCredentials(t), outcomes{unauth, unauth, unauth, anybody, unauth}},
		{"a node certificate", c.nodeCredentials(t, member), outcomes{denied, denied, ok, anybody, denied}},
		{"the owner certificate", c.owner, outcomes{ok, ok, denied, anybody, ok}},
		{"a metrics certificate", c.metricsCredential(t), outcomes{unauth, unauth, unauth, anybody, unauth}},
		{"a deleted node's certificate", c.nodeCredentials(t, deleted), outcomes{denied, denied, denied, anybody, denied}},
	}
	for _, caller := range callers {
		for _, sc := range securedCalls() {
			want := sc.want(caller.want)
			t.Run(fmt.Sprintf("%s with %s: %v", sc.name, caller.name, want), func(t *testing.T) {
				err := sc.call(callContext(t), c, caller.cert)
				if got := status.Code(err); got != want {
					t.Fatalf("got %v (%v), want %v", got, err, want)
				}
				if err != nil && status.Convert(err).Message() == "" {
					t.Errorf("refused with %v but no message saying why", status.Code(err))
				}
			})
		}
	}
}

func callGetNodes(ctx context.Context, c *testCluster, cert *tls.Certificate) error {
	conn, err := rpc.DialCurator(c.curatorEndpoints(), c.ca, cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := apb.NewManagementClient(conn).GetNodes(ctx, &apb.GetNodesRequest{})
	if err != nil {
		return err
	}
	if _, err := stream.Recv(); err != nil {
		return err // io.EOF would mean an empty list: not OK, and not a gRPC status either
	}
	return nil
}

func callApproveNode(ctx context.Context, c *testCluster, cert *tls.Certificate) error {
	conn, err := rpc.DialCurator(c.curatorEndpoints(), c.ca, cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = apb.NewManagementClient(conn).ApproveNode(ctx, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: c.ids[0]}})
	return err
}

func callWatch(ctx context.Context, c *testCluster, cert *tls.Certificate) error {
	conn, err := rpc.DialCurator(c.curatorEndpoints(), c.ca, cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := cpb.NewCuratorClient(conn).Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_UpNodes{UpNodes: &cpb.WatchRequest_NodesInCluster{}}})
	if err != nil {
		return err
	}
	ev, err := stream.Recv()
	if err != nil {
		return err
	}
	if len(ev.Nodes) == 0 {
		return fmt.Errorf("the watch's first event lists no UP node")
	}
	return nil
}

func callGetCACertificate(ctx context.Context, c *testCluster, cert *tls.Certificate) error {
	conn, err := rpc.DialCluster(c.curatorEndpoints(), c.ca, cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := apb.NewDiscoveryClient(conn).GetCACertificate(ctx, &apb.GetCACertificateRequest{})
	if err != nil {
		return err
	}
	if string(res.CaCertificate) != string(c.ca.Raw) {
		return fmt.Errorf("the cluster returned another CA certificate than the one metroctl pinned")
	}
	return nil
}

// callGetProcesses reads node 1's processes, which include its node program.
func callGetProcesses(ctx context.Context, c *testCluster, cert *tls.Certificate) error {
	conn, err := rpc.DialNode(c.managementEndpoint(1), c.ids[0], c.ca, cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := apb.NewNodeManagementClient(conn).GetProcesses(ctx, &apb.GetProcessesRequest{})
	if err != nil {
		return err
	}
	for _, p := range res.Processes {
		if strings.Contains(strings.Join(p.CommandLine, " "), "metropolis-node") && p.ResidentBytes > 0 {
			return nil
		}
	}
	return fmt.Errorf("node 1 lists %d processes, none of them a node program with its memory", len(res.Processes))
}

func callNodeStatus(ctx context.Context, c *testCluster, cert *tls.Certificate) error {
	conn, err := rpc.DialNode(c.managementEndpoint(1), c.ids[0], c.ca, cert)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := apb.NewNodeManagementClient(conn).GetStatus(ctx, &apb.GetStatusRequest{})
	if err != nil {
		return err
	}
	if res.NodeId != c.ids[0] {
		return fmt.Errorf("node 1 says it is %s, want %s", res.NodeId, c.ids[0])
	}
	return nil
}

// consensusMember returns the number of a node that holds the consensus member role.
func (c *testCluster) consensusMember(t *testing.T) int {
	t.Helper()
	for i := 1; i <= c.Nodes(); i++ {
		n, err := c.node(callContext(t), i)
		if err != nil {
			t.Fatal(err)
		}
		if n.Roles.GetConsensusMember() {
			return i
		}
	}
	t.Fatalf("no node of %v is a consensus member", c.ids)
	return 0
}
