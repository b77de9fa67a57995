// Package pki owns a Metropolis cluster's certificate authority and the certificates it issues:
// creating the CA, issuing node, user and service certificates with explicit expiry, verifying
// presented certificates, and building the TLS configurations that use them.
//
// It does not store anything (the curator keeps the CA in etcd, nodes keep their certificates on
// their data partition) and it does not decide who gets a certificate: the curator checks its
// node registry and the caller's authorization before asking the CA to issue.
//
// # Model
//
// There is one self-signed ed25519 CA per cluster, which signs every leaf directly (no
// intermediates; the CA cannot sign other CAs). Every leaf carries its identity kind in its
// subject's organizational unit, set only by this package:
//
//	OU=metropolis:node     CN=<node ID>   ServerAuth+ClientAuth  DNS SAN <node ID>, IP SANs
//	OU=metropolis:user     CN=<user name> ClientAuth only
//	OU=metropolis:service  CN=<given>     usage per ServiceUsage, SANs as given
//	OU=metropolis:metrics  CN=<given>     ClientAuth only (a scraper: node/metrics)
//
// Verification insists on the kind, so a node certificate never passes as a user (or service)
// and vice versa; a node certificate must also name the node ID of its own public key. The OU
// was chosen over a private extension because ordinary tools (openssl x509 -text) show it and
// because Kubernetes ignores it (it maps O to groups, which service certificates may need).
//
// Certificates always expire: validity is a required argument and must be positive, and no
// certificate may outlive the CA. NotBefore is set a few minutes in the past so that nodes with
// slightly wrong clocks accept fresh certificates. Serial numbers are 128 random bits.
//
// Revocation: the curator refuses a deleted or non-UP node by its registry, whatever its
// certificate says. Etcd has no registry to ask, so the etcd certificates of a node that stops
// being a consensus member are revoked by a list (RevocationList, a CRL signed by the CA, which
// the curator keeps and every member's etcd reads; VerifyRevocationList checks one).
//
// Renewal: certificates last a year; a node renews each at two thirds of its lifetime (RenewAt,
// driven by node/renewal's loop). Renewable holds a certificate that is swapped while servers
// and clients present it (read at every handshake) and publishes each replacement as a
// watchable value; RenewedNodeCertificate checks a successor before it is used.
//
// Users: the curator (issues certificates, authenticates callers), consensus (etcd's mutual
// TLS), node startup (loads its certificate, dials the curator), roleserve and the Kubernetes
// worker (renewals), node/rpc (TLS configurations), and metroctl (pins the CA and shows its
// fingerprint on first use). The Kubernetes PKI is separate (node/kubernetes/pki).
package pki
