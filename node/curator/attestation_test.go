package curator

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/attestation"
	"metropolis.dev/metropolis/osbase/tpm/attesttest"
	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// wantCode checks that err has code and a message saying want.
func wantCode(t *testing.T, err error, code codes.Code, want string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code || !strings.Contains(st.Message(), want) {
		t.Errorf("got %v, want %v saying %q", err, code, want)
	}
}

// attestingNode is a test node with a machine's TPM, going through registration, approval,
// commit and joins as a node's enrolment does.
type attestingNode struct {
	*testNode
	m      *attesttest.Machine
	secret []byte
}

func (c *testCluster) registerWithTPM(t *testing.T, m *attesttest.Machine, ip string) (*attestingNode, error) {
	t.Helper()
	n := &attestingNode{testNode: newTestNode(t, ip), m: m}
	req := &cpb.RegisterNodeRequest{RegisterTicket: c.ticket(), JoinPublicKey: n.joinPub()}
	if m != nil {
		req.Tpm = tpmIdentity(m)
	}
	res, err := cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).RegisterNode(callCtx(t), req)
	if err != nil {
		return n, err
	}
	if m != nil {
		cred := res.GetCredential()
		if cred == nil {
			t.Fatal("registered with a TPM, got no credential to activate")
		}
		if n.secret, err = m.Attestor.ActivateCredential(m.AK, attestCredential(cred)); err != nil {
			t.Fatalf("activate the registration's credential: %v", err)
		}
	}
	return n, nil
}

func (c *testCluster) commitWithTPM(t *testing.T, n *attestingNode) error {
	t.Helper()
	ev, err := n.m.Attestor.Quote(n.m.AK, CommitNonce(n.secret))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cpb.NewCuratorClient(c.dial(selfSigned(t, n.key))).CommitNode(callCtx(t), &cpb.CommitNodeRequest{
		ClusterUnlockKey: n.unlockKey, ActivationSecret: n.secret, Evidence: EvidenceToProto(ev),
	})
	if err == nil {
		n.cert = tlsCert(t, res.GetNodeCertificate(), n.key)
	}
	return err
}

// joinWithTPM joins as node n, quoting with quoter's TPM (n's own, or another machine
// standing in for it); replay, if set, is sent instead of a fresh quote.
func (c *testCluster) joinWithTPM(t *testing.T, n *attestingNode, quoter *attesttest.Machine, replay *cpb.TPMEvidence) (*cpb.TPMEvidence, error) {
	t.Helper()
	cur := cpb.NewCuratorClient(c.dial(selfSigned(t, n.joinKey)))
	nr, err := cur.GetJoinNonce(callCtx(t), &cpb.GetJoinNonceRequest{NodeId: n.id})
	if err != nil {
		return nil, err
	}
	ev := replay
	if ev == nil {
		q, err := quoter.Attestor.Quote(quoter.AK, nr.GetNonce())
		if err != nil {
			t.Fatal(err)
		}
		ev = EvidenceToProto(q)
	}
	_, err = cur.JoinNode(callCtx(t), &cpb.JoinNodeRequest{NodeId: n.id, Evidence: ev})
	return ev, err
}

// TestAttestation runs a cluster that requires attestation, with nodes on software TPMs:
// trusted ones get in and join again; each untrusted one is refused, with the cause in its
// record.
func TestAttestation(t *testing.T) {
	vendor, otherVendor := tpmtest.NewVendorCA(t), tpmtest.NewVendorCA(t)
	first := attesttest.New(t, vendor, "firmware 1", "UKI A")
	c := newTestClusterWith(t, clusterOptions{
		attestation:  &apb.AttestationPolicy{Required: true, EkCaCertificates: [][]byte{vendor.Root.Raw, vendor.Intermediate.Raw}},
		firstMachine: first,
	})
	info, err := c.mgmt().GetClusterInfo(callCtx(t), &apb.GetClusterInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if p := info.GetAttestationPolicy(); !p.GetRequired() || len(p.GetTrustedReleases()) != 1 || !bytes.Equal(p.GetTrustedReleases()[0], tpmtest.Digest("UKI A")) {
		t.Fatalf("cluster info shows policy %v, want attestation required and the first node's release trusted", p)
	}
	if st := c.node(c.first.id).GetAttestation(); !st.GetEkPinned() || !bytes.Equal(st.GetUki(), tpmtest.Digest("UKI A")) {
		t.Errorf("the first node's attestation %v, want its EK pinned and UKI A", st)
	}

	t.Run("a node with a vendor's TPM, booting a trusted release, gets in and joins", func(t *testing.T) {
		n, err := c.registerWithTPM(t, attesttest.New(t, vendor, "firmware 2", "UKI A"), "127.0.0.2")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.approve(n.testNode); err != nil {
			t.Fatal(err)
		}
		if err := c.commitWithTPM(t, n); err != nil {
			t.Fatalf("commit: %v", err)
		}
		ev, err := c.joinWithTPM(t, n, n.m, nil)
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		st := c.node(n.id).GetAttestation()
		if st.GetLastAttested() == nil || st.GetLastRefusal() != "" || st.GetEkCertificateIssuer() == "" {
			t.Errorf("attestation status %v, want attested, no refusal, the EK certificate's issuer", st)
		}

		t.Run("a replayed quote is refused", func(t *testing.T) {
			_, err := c.joinWithTPM(t, n, n.m, ev)
			wantCode(t, err, codes.PermissionDenied, "replayed quote")
			if got := c.node(n.id).GetAttestation().GetLastRefusal(); !strings.Contains(got, "replayed quote") {
				t.Errorf("the node's record says %q, want the refusal", got)
			}
		})
		t.Run("another TPM quoting for the node is refused", func(t *testing.T) {
			_, err := c.joinWithTPM(t, n, attesttest.New(t, vendor, "firmware 2", "UKI A"), nil)
			wantCode(t, err, codes.PermissionDenied, "does not verify with the node's AK")
		})
		t.Run("changed firmware is refused", func(t *testing.T) {
			n.m.Boot("firmware 3", "UKI A")
			_, err := c.joinWithTPM(t, n, n.m, nil)
			wantCode(t, err, codes.PermissionDenied, "firmware changed")
			n.m.Boot("firmware 2", "UKI A")
			if _, err := c.joinWithTPM(t, n, n.m, nil); err != nil {
				t.Errorf("back on its firmware: %v", err)
			}
		})
		t.Run("a node booting an untrusted release is refused until it is trusted", func(t *testing.T) {
			n.m.Boot("firmware 2", "UKI B")
			_, err := c.joinWithTPM(t, n, n.m, nil)
			wantCode(t, err, codes.PermissionDenied, "untrusted release")
			if _, err := c.mgmt().TrustRelease(callCtx(t), &apb.TrustReleaseRequest{UkiAuthenticodeSha256: tpmtest.Digest("UKI B")}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.joinWithTPM(t, n, n.m, nil); err != nil {
				t.Errorf("after trust-release: %v", err)
			}
		})
	})

	t.Run("a TPM without a certificate is approved only with its EK pinned", func(t *testing.T) {
		n, err := c.registerWithTPM(t, attesttest.New(t, nil, "firmware 4", "UKI A"), "127.0.0.3")
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, c.approve(n.testNode), codes.FailedPrecondition, "--pin-ek")
		_, err = c.mgmt().ApproveNode(callCtx(t), &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: n.id}, PinEkFingerprint: bytes.Repeat([]byte{1}, 32)})
		wantCode(t, err, codes.FailedPrecondition, "is not the node's EK fingerprint")
		_, err = c.mgmt().ApproveNode(callCtx(t), &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: n.id}, PinEkFingerprint: attestation.EKFingerprint(n.m.EK.Public)})
		if err != nil {
			t.Fatalf("approve with the pinned EK: %v", err)
		}
		if err := c.commitWithTPM(t, n); err != nil {
			t.Fatalf("commit: %v", err)
		}
	})

	t.Run("a TPM certified by another vendor is not approved", func(t *testing.T) {
		n, err := c.registerWithTPM(t, attesttest.New(t, otherVendor, "firmware 5", "UKI A"), "127.0.0.4")
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, c.approve(n.testNode), codes.FailedPrecondition, "does not chain to a CA the cluster trusts")
	})

	t.Run("a node without a TPM cannot register", func(t *testing.T) {
		_, err := c.registerWithTPM(t, nil, "127.0.0.5")
		wantCode(t, err, codes.PermissionDenied, "sent no TPM")
	})

	t.Run("a commit without the challenge's secret is refused", func(t *testing.T) {
		n, err := c.registerWithTPM(t, attesttest.New(t, vendor, "firmware 6", "UKI A"), "127.0.0.6")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.approve(n.testNode); err != nil {
			t.Fatal(err)
		}
		n.secret = bytes.Repeat([]byte{7}, len(n.secret))
		wantCode(t, c.commitWithTPM(t, n), codes.PermissionDenied, "AK not in that TPM")
	})

	t.Run("attestation goes off only with the explicit flag, and on again only while no node would be refused", func(t *testing.T) {
		mgmt := c.mgmt()
		got, err := mgmt.GetClusterConfiguration(callCtx(t), &apb.GetClusterConfigurationRequest{})
		if err != nil || !got.GetStored().GetConfiguration().GetAttestation().GetRequired() {
			t.Fatalf("cluster configuration %v, %v: want attestation required", got, err)
		}
		off := &apb.ConfigureClusterRequest{
			UpdateMask:      &fieldmaskpb.FieldMask{Paths: []string{"attestation.required"}},
			Configuration:   &apb.ClusterConfiguration{},
			ExpectedVersion: got.GetStored().GetVersion(),
		}
		_, err = mgmt.ConfigureCluster(callCtx(t), off)
		wantCode(t, err, codes.FailedPrecondition, "set allow_attestation_off")
		off.AllowAttestationOff = true
		res, err := mgmt.ConfigureCluster(callCtx(t), off)
		if err != nil {
			t.Fatal(err)
		}
		info, err := mgmt.GetClusterInfo(callCtx(t), &apb.GetClusterInfoRequest{})
		if err != nil || info.GetAttestationPolicy().GetRequired() || len(info.GetAttestationPolicy().GetTrustedReleases()) == 0 {
			t.Fatalf("policy after turning attestation off: %v, %v; want not required, its trusted releases kept", info.GetAttestationPolicy(), err)
		}

		nodes, err := listNodes(callCtx(t), c.etcd)
		if err != nil {
			t.Fatal(err)
		}
		refused := unattested(nodes)
		_, err = mgmt.ConfigureCluster(callCtx(t), &apb.ConfigureClusterRequest{
			UpdateMask:      &fieldmaskpb.FieldMask{Paths: []string{"attestation.required"}},
			Configuration:   &apb.ClusterConfiguration{Attestation: &apb.ClusterAttestation{Required: true}},
			ExpectedVersion: res.GetStored().GetVersion(),
		})
		if len(refused) == 0 {
			if err != nil {
				t.Fatalf("turning attestation on with every node attested: %v", err)
			}
			return
		}
		wantCode(t, err, codes.FailedPrecondition, "these nodes would be refused at their next start: "+refused[0])
		t.Logf("turning attestation on again refused, naming %v", refused)
	})
}

func TestTrustRelease(t *testing.T) {
	a, b := tpmtest.Digest("UKI A"), tpmtest.Digest("UKI B")
	for _, tc := range []struct {
		name        string
		cur         *cpb.ClusterRecord
		add         []byte
		want        [][]byte
		wantChanged bool
	}{
		{"into a cluster without a policy", &cpb.ClusterRecord{}, a, [][]byte{a}, true},
		{"a new release", &cpb.ClusterRecord{AttestationPolicy: &apb.AttestationPolicy{TrustedReleases: [][]byte{a}}}, b, [][]byte{a, b}, true},
		{"a release already trusted", &cpb.ClusterRecord{AttestationPolicy: &apb.AttestationPolicy{TrustedReleases: [][]byte{a, b}}}, a, [][]byte{a, b}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := trustRelease(tc.cur, tc.add)
			if changed != tc.wantChanged || len(got.GetAttestationPolicy().GetTrustedReleases()) != len(tc.want) {
				t.Errorf("got %v (changed %v), want releases %x (changed %v)", got, changed, tc.want, tc.wantChanged)
			}
		})
	}
}

func TestRegisterAttestationWithoutTPM(t *testing.T) {
	if rec, cred, err := registerAttestation("register", "n", nil, nil, false); rec != nil || cred != nil || err != nil {
		t.Errorf("attestation off, no TPM: got %v, %v, %v; want nothing", rec, cred, err)
	}
	_, _, err := registerAttestation("register", "n", nil, nil, true)
	wantCode(t, err, codes.PermissionDenied, "sent no TPM")
	_, _, err = registerAttestation("register", "n", &cpb.NodeAttestationRecord{EkPublic: []byte("one EK")}, &cpb.TPMIdentity{EkPublic: []byte("another EK")}, false)
	wantCode(t, err, codes.PermissionDenied, "another TPM")
}
