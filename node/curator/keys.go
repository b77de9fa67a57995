package curator

import "strings"

// The curator's etcd keys. Everything lives under one prefix so that nothing else in etcd (the
// Kubernetes apiserver's data, later) can collide with it.
const (
	keyPrefix = "/metropolis/curator/"
	// keyCluster holds the cpb.ClusterRecord; its existence means "bootstrapped".
	keyCluster = keyPrefix + "cluster"
	// keyCA holds the cpb.CARecord.
	keyCA = keyPrefix + "ca"
	// keyRegisterTicket holds the register ticket (raw bytes).
	keyRegisterTicket = keyPrefix + "register-ticket"
	// keyNodesPrefix is followed by a node ID; each holds a cpb.NodeRecord.
	keyNodesPrefix = keyPrefix + "nodes/"
	// keyElection is the leader election's prefix (etcd's concurrency package adds "/" and
	// each candidate's lease ID); each candidate's value is a cpb.LeaderRecord.
	keyElection = keyPrefix + "leader"
	// keyRollout holds the latest rollout (apb.Rollout): the one running, or the last one.
	keyRollout = keyPrefix + "rollout"
	// keyConsensusCertsPrefix is followed by a node ID, '/' and a serial number (hex); each
	// holds a cpb.IssuedCertificate: an etcd certificate issued to the node, not yet revoked.
	keyConsensusCertsPrefix = keyPrefix + "consensus-certificates/"
	// keyRevocationList holds the cpb.RevocationListRecord: the revoked etcd certificates.
	keyRevocationList = keyPrefix + "revocation-list"
)

func nodeKey(nodeID string) string { return keyNodesPrefix + nodeID }

func nodeIDFromKey(key []byte) string { return strings.TrimPrefix(string(key), keyNodesPrefix) }
