package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/test/testenv"
)

// The node's record file, which the hosted platform keeps in plain JSON; its name belongs to
// node/core.
const (
	recordFile        = "sealed-record.json"
	nodeCertJSONField = "node_certificate"
	nodeKeyFile       = testenv.NodeKeyFile
)

// etcdVoters asks node i's etcd member for the cluster's members and returns the names of the
// voting ones, sorted, or an error naming a member that is still a learner
// (testenv.HostedEtcdClient: as the member itself would, from inside the node's namespace).
func (c *testCluster) etcdVoters(ctx context.Context, i int) ([]string, error) {
	cl, err := testenv.HostedEtcdClient(ctx, c.Cluster, c.ca, i, attemptTimeout)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	res, err := cl.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("node %d: etcd member list: %w", i, err)
	}
	var voters []string
	for _, m := range res.Members {
		if m.IsLearner {
			return nil, fmt.Errorf("node %d: etcd member %s is still a learner", i, m.Name)
		}
		voters = append(voters, m.Name)
	}
	slices.Sort(voters)
	return voters, nil
}

// waitForVoters waits until node i's etcd member lists every node of the cluster as a voter,
// for clusters whose every node is a consensus member (up to three). A cluster tolerates the loss of a member only from then on: hosted.Launch returns as soon as
// the last member runs, which may be before etcd has promoted it from learner to voter.
func (c *testCluster) waitForVoters(t *testing.T, i int, timeout time.Duration) time.Duration {
	t.Helper()
	want := slices.Clone(c.ids)
	slices.Sort(want)
	return eventually.Pass(t, timeout, fmt.Sprintf("node %d's etcd member to list all nodes as voters", i), attempt(func(ctx context.Context) error {
		voters, err := c.etcdVoters(ctx, i)
		if err != nil {
			return err
		}
		if !slices.Equal(voters, want) {
			return fmt.Errorf("node %d: etcd voters %v, want %v", i, voters, want)
		}
		return nil
	}))
}
