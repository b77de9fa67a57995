package curator

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/pki"
)

// Revoking etcd certificates.
//
// The curator refuses a deleted node by its registry, whatever certificate it presents; etcd
// has no registry to ask, and every etcd certificate carries the same name. So the curator
// records each etcd certificate it issues (keyConsensusCertsPrefix/<node ID>/<serial>), and
// when a node stops being a consensus member (its role removed, or deleted) it moves that
// node's certificates into the cluster's revocation list (keyRevocationList) in the same
// transaction that changes the node's record. Every member's node follows the list
// (WatchRevocationList) and writes it where its etcd reads it on every new connection
// (consensus.WriteRevocationList), so the certificates are refused on every peer and client
// port from then on. Entries leave the list once their certificates have expired.

// revocationListValidity is the next-update time written into each list. Nothing fetches
// lists by that date (members follow the list in etcd), so it only has to be in the future.
const revocationListValidity = ConsensusCertificateValidity

func issuedCertificateKey(nodeID string, serial *big.Int) string {
	return issuedCertificatesPrefix(nodeID) + hex.EncodeToString(serial.Bytes())
}

func issuedCertificatesPrefix(nodeID string) string {
	return keyConsensusCertsPrefix + nodeID + "/"
}

// recordIssuedOp is the etcd operation recording the etcd certificate cert of node nodeID.
func recordIssuedOp(nodeID string, cert *x509.Certificate) (clientv3.Op, error) {
	return putProtoOp(issuedCertificateKey(nodeID, cert.SerialNumber), &cpb.IssuedCertificate{
		Serial: cert.SerialNumber.Bytes(), NotAfterUnix: cert.NotAfter.Unix(),
	})
}

// issuedCertificates reads the recorded etcd certificates of node nodeID.
func issuedCertificates(ctx context.Context, kv clientv3.KV, nodeID string) ([]*cpb.IssuedCertificate, error) {
	resp, err := kv.Get(ctx, issuedCertificatesPrefix(nodeID), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read the etcd certificates of %s: %w", nodeID, err)
	}
	out := make([]*cpb.IssuedCertificate, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var c cpb.IssuedCertificate
		if err := proto.Unmarshal(kv.Value, &c); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

// nextRevocations is the revocation list cur (nil if there is none yet) with the certificates
// issued to node nodeID added, and every entry whose certificate has expired by now removed.
// It reports whether the list changed.
func nextRevocations(cur *cpb.RevocationListRecord, issued []*cpb.IssuedCertificate, nodeID string, now time.Time) (*cpb.RevocationListRecord, bool) {
	next := &cpb.RevocationListRecord{Number: cur.GetNumber() + 1}
	changed := cur == nil
	listed := map[string]bool{}
	for _, e := range cur.GetRevoked() {
		if e.GetNotAfterUnix() < now.Unix() {
			changed = true
			continue
		}
		listed[string(e.GetSerial())] = true
		next.Revoked = append(next.Revoked, e)
	}
	for _, c := range issued {
		if c.GetNotAfterUnix() < now.Unix() || listed[string(c.GetSerial())] {
			continue
		}
		listed[string(c.GetSerial())] = true
		next.Revoked = append(next.Revoked, &cpb.RevocationListRecord_Entry{
			Serial: c.GetSerial(), NotAfterUnix: c.GetNotAfterUnix(), NodeId: nodeID, RevokedAtUnix: now.Unix(),
		})
		changed = true
	}
	if !changed {
		return cur, false
	}
	return next, true
}

// signRevocations fills in rec's CRL, signed by ca.
func signRevocations(ca *pki.CA, rec *cpb.RevocationListRecord, now time.Time) error {
	revoked := make([]pki.Revoked, 0, len(rec.GetRevoked()))
	for _, e := range rec.GetRevoked() {
		revoked = append(revoked, pki.Revoked{Serial: new(big.Int).SetBytes(e.GetSerial()), RevokedAt: time.Unix(e.GetRevokedAtUnix(), 0)})
	}
	der, err := ca.RevocationList(revoked, rec.GetNumber(), now, now.Add(revocationListValidity))
	if err != nil {
		return err
	}
	rec.Crl = der
	return nil
}

// revokeConsensusOps returns the operations that revoke every recorded etcd certificate of
// node nodeID: the new revocation list, and the removal of the records. The caller holds
// l.mu and commits them together with the change that ends the node's membership.
func (l *leader) revokeConsensusOps(ctx context.Context, nodeID string) ([]clientv3.Op, error) {
	issued, err := issuedCertificates(ctx, l.etcd(), nodeID)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	var cur cpb.RevocationListRecord
	found, err := getProto(ctx, l.etcd(), keyRevocationList, &cur)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	curp := &cur
	if !found {
		curp = nil
	}
	now := time.Now()
	next, changed := nextRevocations(curp, issued, nodeID, now)
	ops := []clientv3.Op{clientv3.OpDelete(issuedCertificatesPrefix(nodeID), clientv3.WithPrefix())}
	if !changed {
		return ops, nil
	}
	if err := signRevocations(l.ca, next, now); err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	put, err := putProtoOp(keyRevocationList, next)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	return append(ops, put), nil
}

// revocationList returns the cluster's revocation list (DER), creating an empty one if there
// is none yet (a cluster bootstrapped before lists existed). The caller holds l.mu.
func (l *leader) revocationList(ctx context.Context) ([]byte, error) {
	var rec cpb.RevocationListRecord
	found, err := getProto(ctx, l.etcd(), keyRevocationList, &rec)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	if found {
		return rec.GetCrl(), nil
	}
	empty, err := emptyRevocationsOp(l.ca, time.Now())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	if err := l.commit(ctx, empty.op); err != nil {
		return nil, err
	}
	return empty.rec.GetCrl(), nil
}

type recordOp struct {
	rec *cpb.RevocationListRecord
	op  clientv3.Op
}

// emptyRevocationsOp is the etcd operation storing a first, empty revocation list.
func emptyRevocationsOp(ca *pki.CA, now time.Time) (recordOp, error) {
	rec, _ := nextRevocations(nil, nil, "", now)
	if err := signRevocations(ca, rec, now); err != nil {
		return recordOp{}, err
	}
	op, err := putProtoOp(keyRevocationList, rec)
	return recordOp{rec: rec, op: op}, err
}

// WatchRevocationList calls apply with the cluster's revocation list of etcd certificates
// (a DER CRL, signed by the cluster CA) from cl, the local member's client, and again with
// every new list, until ctx ends or apply fails. It waits for a list if there is none yet.
// A consensus member's node runs it to keep its etcd's list current.
func WatchRevocationList(ctx context.Context, cl *clientv3.Client, apply func(der []byte) error) error {
	resp, err := cl.Get(ctx, keyRevocationList)
	if err != nil {
		return fmt.Errorf("read the revocation list: %w", err)
	}
	handle := func(value []byte) error {
		var rec cpb.RevocationListRecord
		if err := proto.Unmarshal(value, &rec); err != nil {
			return fmt.Errorf("decode the revocation list: %w", err)
		}
		return apply(rec.GetCrl())
	}
	if len(resp.Kvs) > 0 {
		if err := handle(resp.Kvs[0].Value); err != nil {
			return err
		}
	}
	w := cl.Watch(clientv3.WithRequireLeader(ctx), keyRevocationList, clientv3.WithRev(resp.Header.Revision+1))
	for wr := range w {
		if err := wr.Err(); err != nil {
			return fmt.Errorf("watch the revocation list: %w", err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypePut {
				if err := handle(ev.Kv.Value); err != nil {
					return err
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("watch the revocation list: the watch ended")
}
