package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Where the shared parts of the Kubernetes PKI live in the cluster's etcd. The prefix is outside
// the apiserver's own (/kubernetes) and the curator's (/metropolis/curator/).
const (
	StoragePrefix         = "/metropolis/kubernetes/pki/"
	caKey                 = StoragePrefix + "ca"
	frontProxyCAKey       = StoragePrefix + "front-proxy-ca"
	serviceAccountKeyName = StoragePrefix + "service-account-key"
)

// ErrNotCreated is returned by LoadCA when no controller has created the Kubernetes PKI yet.
var ErrNotCreated = errors.New("the Kubernetes PKI does not exist yet: no node with the KubernetesController role has started")

// EnsureCA returns the cluster's Kubernetes CA, creating and storing it if no one has yet. Of
// concurrent callers exactly one creation wins (a transaction on the key's absence); the others
// get the winner's CA.
func EnsureCA(ctx context.Context, kv clientv3.KV) (*CA, error) {
	ca, err := LoadCA(ctx, kv)
	if !errors.Is(err, ErrNotCreated) {
		return ca, err
	}
	return ensureCA(ctx, kv, caKey, "Metropolis Kubernetes CA")
}

// EnsureFrontProxyCA returns the CA of the apiserver's front proxy, creating it once like
// EnsureCA. It signs one kind of certificate only: the one with which the apiservers pass
// requests on to aggregated APIs (the resource metrics API), naming the caller in headers that
// the aggregated server believes. It is a CA of its own, as upstream advises, so that no client
// certificate of the Kubernetes CA can make an aggregated server believe such headers.
func EnsureFrontProxyCA(ctx context.Context, kv clientv3.KV) (*CA, error) {
	return ensureCA(ctx, kv, frontProxyCAKey, "Metropolis Kubernetes front proxy CA")
}

// ensureCA reads the CA at key, or creates it: of concurrent callers exactly one creation wins
// (a transaction on the key's absence) and the others get the winner's CA.
func ensureCA(ctx context.Context, kv clientv3.KV, key, commonName string) (*CA, error) {
	res, err := kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s from etcd: %w", commonName, err)
	}
	if len(res.Kvs) > 0 {
		return ParseCAPEM(res.Kvs[0].Value)
	}
	ca, err := newCA(commonName)
	if err != nil {
		return nil, err
	}
	keyPEM, err := EncodePrivateKeyPEM(ca.Key)
	if err != nil {
		return nil, err
	}
	stored, err := createIfAbsent(ctx, kv, key, append(ca.CertificatePEM(), keyPEM...))
	if err != nil {
		return nil, err
	}
	return ParseCAPEM(stored)
}

// LoadCA reads the Kubernetes CA, or returns ErrNotCreated.
func LoadCA(ctx context.Context, kv clientv3.KV) (*CA, error) {
	res, err := kv.Get(ctx, caKey)
	if err != nil {
		return nil, fmt.Errorf("read kubernetes CA from etcd: %w", err)
	}
	if len(res.Kvs) == 0 {
		return nil, ErrNotCreated
	}
	return ParseCAPEM(res.Kvs[0].Value)
}

// EnsureServiceAccountKey returns the cluster's service-account signing key, creating it once
// like EnsureCA.
func EnsureServiceAccountKey(ctx context.Context, kv clientv3.KV) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	keyPEM, err := EncodePrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	stored, err := createIfAbsent(ctx, kv, serviceAccountKeyName, keyPEM)
	if err != nil {
		return nil, err
	}
	return ParsePrivateKeyPEM(stored)
}

// createIfAbsent stores value at key unless the key exists, and returns what the key holds
// afterwards.
func createIfAbsent(ctx context.Context, kv clientv3.KV, key string, value []byte) ([]byte, error) {
	res, err := kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("create %s in etcd: %w", key, err)
	}
	if res.Succeeded {
		return value, nil
	}
	kvs := res.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, fmt.Errorf("create %s in etcd: it exists but reads as empty", key)
	}
	return kvs[0].Value, nil
}

// ParseCAPEM reads a stored CA: a CERTIFICATE block followed by its PRIVATE KEY block.
func ParseCAPEM(data []byte) (*CA, error) {
	certBlock, rest := pem.Decode(data)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" {
		return nil, errors.New("stored kubernetes CA: first PEM block is not a CERTIFICATE")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("stored kubernetes CA: certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("stored kubernetes CA: certificate is not a CA")
	}
	key, err := ParsePrivateKeyPEM(rest)
	if err != nil {
		return nil, fmt.Errorf("stored kubernetes CA: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("stored kubernetes CA: private key does not match the certificate")
	}
	return &CA{Certificate: cert, Key: key}, nil
}

// ParsePrivateKeyPEM reads an ECDSA key from a PKCS#8 PRIVATE KEY block.
func ParsePrivateKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PRIVATE KEY PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want ECDSA", parsed)
	}
	return key, nil
}
