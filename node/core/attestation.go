package core

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/google/go-attestation/attest"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/osbase/tpm"
)

// This node's side of TPM attestation (docs/attestation.md): at registration it sends its TPM's
// endorsement key and a new attestation key (AK), proves at commit that its TPM recovered the
// cluster's challenge and quotes its boot; at every join it quotes its boot with the nonce the
// cluster gives it. The AK's blob (which only this TPM can load) is kept in the sealed record.
// A node without a TPM (hosted) does none of this; a cluster that requires attestation then
// refuses it.

// withAttestor runs f with the machine's TPM, or with nil on a machine without one.
func (n *Node) withAttestor(f func(att *tpm.Attestor) error) error {
	att, err := n.plat.OpenAttestor()
	if err != nil {
		return err
	}
	if att == nil {
		return f(nil)
	}
	defer func() { _ = att.Close() }()
	return f(att)
}

// newTPMIdentity makes a new attestation key and returns what registration sends, and the
// AK's blob to keep.
func newTPMIdentity(att *tpm.Attestor) (*cpb.TPMIdentity, []byte, error) {
	ek, err := att.Endorsement()
	if err != nil {
		return nil, nil, err
	}
	blob, params, err := att.NewAK()
	if err != nil {
		return nil, nil, err
	}
	return tpmIdentityOf(ek, params), blob, nil
}

func tpmIdentityOf(ek *tpm.Endorsement, ak attest.AttestationParameters) *cpb.TPMIdentity {
	return &cpb.TPMIdentity{
		EkPublic: ek.Public, EkCertificate: ek.Certificate,
		Ak: &cpb.AKParameters{Public: ak.Public, CreateData: ak.CreateData, CreateAttestation: ak.CreateAttestation, CreateSignature: ak.CreateSignature},
	}
}

// quoter is how a node quotes its boot for a nonce; nil for a node without a TPM or an AK.
type quoter func(nonce []byte) (*cpb.TPMEvidence, error)

// quoterFor quotes with the AK akBlob on the machine's TPM; nil if akBlob is (a node enrolled
// without a TPM, or before attestation existed).
func (n *Node) quoterFor(akBlob []byte) quoter {
	if akBlob == nil {
		return nil
	}
	return func(nonce []byte) (*cpb.TPMEvidence, error) {
		var out *cpb.TPMEvidence
		err := n.withAttestor(func(att *tpm.Attestor) error {
			if att == nil {
				return fmt.Errorf("the sealed record holds an attestation key, but the machine has no TPM")
			}
			ev, err := att.Quote(akBlob, nonce)
			if err != nil {
				return err
			}
			out = curator.EvidenceToProto(ev)
			return nil
		})
		return out, err
	}
}

// selfAttestation is the first node's attestation of itself for the cluster it creates: its
// TPM, and a quote of its boot with a nonce of its own. nil for a node without an AK.
func (n *Node) selfAttestation(ctx context.Context, akBlob []byte) (*curator.BootstrapAttestation, error) {
	if akBlob == nil {
		return nil, nil
	}
	var out *curator.BootstrapAttestation
	err := n.withAttestor(func(att *tpm.Attestor) error {
		if att == nil {
			return fmt.Errorf("the sealed record holds an attestation key, but the machine has no TPM")
		}
		ek, err := att.Endorsement()
		if err != nil {
			return err
		}
		params, err := att.AKParameters(akBlob)
		if err != nil {
			return err
		}
		nonce := make([]byte, 32)
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		ev, err := att.Quote(akBlob, nonce)
		if err != nil {
			return err
		}
		out = &curator.BootstrapAttestation{TPM: tpmIdentityOf(ek, params), Nonce: nonce, Evidence: curator.EvidenceToProto(ev)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attest this node for the new cluster: %w", err)
	}
	n.logger(ctx).Infof("attested this node's TPM and boot for the new cluster")
	return out, nil
}

// enrolmentTPM makes the attestation key a node enrols with, and returns what registration
// sends of its TPM; nothing on a machine without a TPM.
func (n *Node) enrolmentTPM(ctx context.Context) (*cpb.TPMIdentity, []byte, error) {
	var id *cpb.TPMIdentity
	var ak []byte
	err := n.withAttestor(func(att *tpm.Attestor) error {
		if att == nil {
			n.logger(ctx).Infof("no TPM: this node cannot attest itself, and a cluster that requires attestation will refuse it")
			return nil
		}
		var err error
		id, ak, err = newTPMIdentity(att)
		return err
	})
	if err != nil {
		// Enrol without: a cluster that requires attestation refuses the node and says so.
		n.logger(ctx).Errorf("cannot attest this node with its TPM, enrolling without: %v", err)
		return nil, nil, nil
	}
	return id, ak, nil
}

// activator has the machine's TPM recover the secret of a registration's challenge for the
// attestation key akBlob.
func (n *Node) activator(akBlob []byte) func(*cpb.EncryptedCredential) ([]byte, error) {
	return func(cred *cpb.EncryptedCredential) ([]byte, error) {
		var secret []byte
		err := n.withAttestor(func(att *tpm.Attestor) error {
			if att == nil {
				return fmt.Errorf("the machine has no TPM")
			}
			var err error
			secret, err = att.ActivateCredential(akBlob, attest.EncryptedCredential{Credential: cred.GetCredential(), Secret: cred.GetSecret()})
			return err
		})
		return secret, err
	}
}
