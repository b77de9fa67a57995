package curator

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// The decisions of ConfigureNode and ConfigureCluster, pure: what to store given what is
// stored and what the caller asked for. The management handlers around them only read, lock
// and commit.

// change says who changes a configuration and when.
type change struct {
	by  string
	now time.Time
}

// Bounds on ConfigureNodeRequest.try_duration: long enough for a node under TCG to apply a
// change and report back, short enough that a node cut off by it is not gone for long.
const (
	minTryDuration = 10 * time.Second
	maxTryDuration = time.Hour
)

// nodeAddress is what ConfigureNode knows of a node's address: a consensus member's cannot
// change, since it is the member's etcd peer URL.
type nodeAddress struct {
	consensus bool
	address   string
}

// nextNodeConfiguration decides a ConfigureNode request against the stored configuration cur
// (nil before the first). It returns the configuration to store and whether it differs from
// cur; a wrong request is codes.InvalidArgument naming the field, a stale version
// codes.Aborted. An equal configuration is no change, whatever the expected version, so that
// a retried call that already took effect succeeds. With try_duration the configuration goes
// into cur's trial instead, and while a trial runs nothing else changes.
func nextNodeConfiguration(nodeID string, cur *apb.StoredNodeConfiguration, req *apb.ConfigureNodeRequest, addr nodeAddress, c change) (*apb.StoredNodeConfiguration, bool, error) {
	if err := apb.ValidateNodeConfiguration(req.GetConfiguration()); err != nil {
		return nil, false, status.Errorf(codes.InvalidArgument, "configure node %s: configuration.%v", nodeID, err)
	}
	try := req.GetTryDuration()
	if try != nil {
		if d := try.AsDuration(); d < minTryDuration || d > maxTryDuration {
			return nil, false, status.Errorf(codes.InvalidArgument, "configure node %s: try_duration: %v is outside %v to %v", nodeID, d, minTryDuration, maxTryDuration)
		}
	}
	if err := checkAddressKept(nodeID, req.GetConfiguration(), addr); err != nil {
		return nil, false, err
	}
	cur = withoutExpiredTrial(cur, c.now)
	want := emptyAsNil(req.GetConfiguration())
	if t := cur.GetTrial(); t != nil {
		if try != nil && proto.Equal(want, emptyAsNil(t.GetConfiguration())) && try.AsDuration() == t.GetDuration().AsDuration() {
			return cur, false, nil
		}
		return nil, false, status.Errorf(codes.FailedPrecondition, "configure node %s: the node is trying version %d until %s; confirm it (ConfirmNodeConfiguration) or let it expire before changing the configuration again",
			nodeID, t.GetVersion(), t.GetExpires().AsTime().UTC().Format(time.RFC3339))
	}
	if proto.Equal(want, emptyAsNil(cur.GetConfiguration())) {
		return cur, false, nil
	}
	if req.GetExpectedVersion() != cur.GetVersion() {
		return nil, false, staleVersion("node "+nodeID, req.GetExpectedVersion(), cur)
	}
	if try != nil {
		next := proto.Clone(cur).(*apb.StoredNodeConfiguration)
		next.Trial = &apb.TrialNodeConfiguration{
			Version:       cur.GetVersion() + 1,
			Configuration: want,
			Duration:      try,
			Expires:       timestamppb.New(c.now.Add(try.AsDuration())),
			Changed:       timestamppb.New(c.now),
			ChangedBy:     c.by,
		}
		return next, true, nil
	}
	return &apb.StoredNodeConfiguration{
		Version:       cur.GetVersion() + 1,
		Configuration: want,
		Changed:       timestamppb.New(c.now),
		ChangedBy:     c.by,
	}, true, nil
}

// withoutExpiredTrial returns cur without its trial if the trial expired by now: the node has
// reverted it (or never applied it), and nobody may confirm it any more.
func withoutExpiredTrial(cur *apb.StoredNodeConfiguration, now time.Time) *apb.StoredNodeConfiguration {
	if cur == nil {
		return &apb.StoredNodeConfiguration{}
	}
	if t := cur.GetTrial(); t == nil || now.Before(t.GetExpires().AsTime()) {
		return cur
	}
	next := proto.Clone(cur).(*apb.StoredNodeConfiguration)
	next.Trial = nil
	return next
}

// checkAddressKept refuses a configuration that would move a consensus member off its address:
// the other members know it by that address (its etcd peer URL), and etcd's membership would
// have to change with it.
func checkAddressKept(nodeID string, c *apb.NodeConfiguration, addr nodeAddress) error {
	uplink := c.GetNetwork().GetUplink()
	if !addr.consensus || uplink == nil || addr.address == "" {
		return nil
	}
	static := uplink.GetStatic()
	for _, a := range static.GetAddresses() {
		if p, err := netip.ParsePrefix(a); err == nil && p.Addr().String() == addr.address {
			return nil
		}
	}
	return status.Errorf(codes.FailedPrecondition, "configure node %s: configuration.network.uplink: the node is a consensus member at %s, its etcd peer address; keep that address among its static addresses, or take its consensus role away first",
		nodeID, addr.address)
}

// nextConfirmation decides a ConfirmNodeConfiguration request: the trial of the given version
// becomes the stored configuration, if it has not expired and the node reported that it runs
// it (reported, NodeConfigurationStatus.trial_version), which it can only do through the
// cluster. A version already confirmed is no change.
func nextConfirmation(nodeID string, cur *apb.StoredNodeConfiguration, version, reported uint64, now time.Time) (*apb.StoredNodeConfiguration, bool, error) {
	const step = "confirm the configuration of node"
	t := cur.GetTrial()
	switch {
	case t == nil && version != 0 && cur.GetVersion() == version:
		return cur, false, nil
	case t == nil || t.GetVersion() != version:
		return nil, false, status.Errorf(codes.FailedPrecondition, "%s %s: no trial of version %d; the configuration is at version %d%s", step, nodeID, version, cur.GetVersion(), trialNote(t))
	case !now.Before(t.GetExpires().AsTime()):
		return nil, false, status.Errorf(codes.FailedPrecondition, "%s %s: the trial of version %d expired at %s; the node went back to version %d",
			step, nodeID, version, t.GetExpires().AsTime().UTC().Format(time.RFC3339), cur.GetVersion())
	case reported != version:
		return nil, false, status.Errorf(codes.FailedPrecondition, "%s %s: the node has not reported running version %d (it reports trial version %d); it may not reach the cluster with it, and reverts by itself at %s",
			step, nodeID, version, reported, t.GetExpires().AsTime().UTC().Format(time.RFC3339))
	}
	return &apb.StoredNodeConfiguration{
		Version:       t.GetVersion(),
		Configuration: t.GetConfiguration(),
		Changed:       t.GetChanged(),
		ChangedBy:     t.GetChangedBy(),
	}, true, nil
}

func trialNote(t *apb.TrialNodeConfiguration) string {
	if t == nil {
		return ", and there is no trial"
	}
	return fmt.Sprintf(", and its trial is version %d", t.GetVersion())
}

// nextClusterConfiguration decides a ConfigureCluster request against the stored
// configuration cur, whose attestation part is the policy's. Turning attestation off needs
// allow_attestation_off (codes.FailedPrecondition otherwise).
func nextClusterConfiguration(cur *apb.StoredClusterConfiguration, req *apb.ConfigureClusterRequest, c change) (*apb.StoredClusterConfiguration, bool, error) {
	merged, err := apb.ApplyClusterConfigurationMask(cur.GetConfiguration(), req.GetConfiguration(), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, false, status.Errorf(codes.InvalidArgument, "configure the cluster: %v", err)
	}
	merged = normalizeCluster(merged)
	if err := apb.ValidateClusterConfiguration(merged); err != nil {
		return nil, false, status.Errorf(codes.InvalidArgument, "configure the cluster: configuration.%v", err)
	}
	if proto.Equal(merged, normalizeCluster(cur.GetConfiguration())) {
		return cur, false, nil
	}
	if req.GetExpectedVersion() != cur.GetVersion() {
		return nil, false, staleVersion("the cluster", req.GetExpectedVersion(), cur)
	}
	if cur.GetConfiguration().GetAttestation().GetRequired() && !merged.GetAttestation().GetRequired() && !req.GetAllowAttestationOff() {
		return nil, false, status.Error(codes.FailedPrecondition, "configure the cluster: attestation.required: turning attestation off lets machines and software the cluster does not know join it; set allow_attestation_off (metroctl: --allow-attestation-off) if that is meant")
	}
	return &apb.StoredClusterConfiguration{
		Version:       cur.GetVersion() + 1,
		Configuration: merged,
		Changed:       timestamppb.New(c.now),
		ChangedBy:     c.by,
	}, true, nil
}

// versioned is a stored configuration, as staleVersion describes it.
type versioned interface {
	GetVersion() uint64
	GetChanged() *timestamppb.Timestamp
	GetChangedBy() string
}

func staleVersion(what string, expected uint64, cur versioned) error {
	return status.Errorf(codes.Aborted, "configure %s: the configuration is at version %d (changed %s by %s), the request expected version %d: it changed since it was read; read it again and reapply the change",
		what, cur.GetVersion(), cur.GetChanged().AsTime().UTC().Format(time.RFC3339), cur.GetChangedBy(), expected)
}

// emptyAsNil makes an empty configuration absent, so that "nothing set" compares and stores
// one way.
func emptyAsNil(c *apb.NodeConfiguration) *apb.NodeConfiguration {
	if c == nil || proto.Size(c) == 0 {
		return nil
	}
	return c
}

func normalizeCluster(c *apb.ClusterConfiguration) *apb.ClusterConfiguration {
	if c == nil {
		return &apb.ClusterConfiguration{}
	}
	c = proto.Clone(c).(*apb.ClusterConfiguration)
	if c.NodeDefaults != nil && proto.Size(c.NodeDefaults) == 0 {
		c.NodeDefaults = nil
	}
	if c.Attestation != nil && !c.Attestation.Required {
		c.Attestation = nil
	}
	return c
}

// storedClusterConfiguration is the cluster's configuration as the API shows it: the record's,
// with the attestation policy's required flag.
func storedClusterConfiguration(rec *cpb.ClusterRecord) *apb.StoredClusterConfiguration {
	stored := &apb.StoredClusterConfiguration{}
	if s := rec.GetConfiguration(); s != nil {
		stored = proto.Clone(s).(*apb.StoredClusterConfiguration)
	}
	if stored.Configuration == nil {
		stored.Configuration = &apb.ClusterConfiguration{}
	}
	stored.Configuration.Attestation = nil
	if rec.GetAttestationPolicy().GetRequired() {
		stored.Configuration.Attestation = &apb.ClusterAttestation{Required: true}
	}
	return stored
}

// withClusterConfiguration returns rec holding stored: its attestation part goes into the
// policy, the rest into the record's configuration.
func withClusterConfiguration(rec *cpb.ClusterRecord, stored *apb.StoredClusterConfiguration) *cpb.ClusterRecord {
	next := proto.Clone(rec).(*cpb.ClusterRecord)
	required := stored.GetConfiguration().GetAttestation().GetRequired()
	if required || next.AttestationPolicy != nil {
		if next.AttestationPolicy == nil {
			next.AttestationPolicy = &apb.AttestationPolicy{}
		}
		next.AttestationPolicy.Required = required
	}
	s := proto.Clone(stored).(*apb.StoredClusterConfiguration)
	if s.Configuration != nil {
		s.Configuration.Attestation = nil
	}
	next.Configuration = s
	return next
}

// unattested lists the nodes that attestation, once required, would refuse at their next
// join: nodes in the cluster without a TPM, or whose last attestation was refused. Turning
// attestation on with such nodes would lock them out.
func unattested(nodes []*cpb.NodeRecord) []string {
	var out []string
	for _, n := range nodes {
		switch n.GetState() {
		case apb.NodeState_NODE_STATE_UP, apb.NodeState_NODE_STATE_STANDBY:
		default:
			continue
		}
		a := n.GetAttestation()
		switch {
		case a == nil:
			out = append(out, n.GetId()+" (no TPM)")
		case a.GetStatus().GetLastRefusal() != "":
			out = append(out, fmt.Sprintf("%s (refused: %.120s)", n.GetId(), a.GetStatus().GetLastRefusal()))
		case a.GetStatus().GetLastAttested() == nil:
			out = append(out, n.GetId()+" (never attested)")
		}
	}
	return out
}

func unattestedError(nodes []string) error {
	const show = 8
	list := nodes
	more := ""
	if len(list) > show {
		list, more = list[:show], fmt.Sprintf(" and %d more", len(nodes)-show)
	}
	return status.Errorf(codes.FailedPrecondition, "configure the cluster: attestation.required: these nodes would be refused at their next start: %s%s; delete or re-register them first", strings.Join(list, ", "), more)
}
