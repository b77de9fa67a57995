// Package config owns metroctl's configuration directory: the named cluster contexts an
// operator (or the launch tooling) has set up, and which of them is current.
//
// A context is everything metroctl needs to talk to one cluster as its owner: the endpoints
// (host:port of curator nodes) to start from, the cluster CA certificate pinned on first
// contact, the owner's ed25519 private key, and the owner certificate the cluster issued for
// that key. The layout on disk, below the directory chosen by DefaultDir or --config-dir:
//
//	current-context              name of the current context, one line
//	contexts/NAME/context.yaml   endpoints (see ContextFile)
//	contexts/NAME/owner-key.pem  owner private key, PKCS#8 PEM, mode 0600
//	contexts/NAME/ca.pem         cluster CA certificate, once pinned
//	contexts/NAME/owner.pem      owner certificate, once obtained
//	contexts/NAME/kubernetes-credential.json
//	                             the last Kubernetes client credential, mode 0600
//
// Files are small and kept separate so that the private key can have its own mode and so that
// each step of taking ownership (pin CA, store certificate) is one atomic file write: every
// write goes to a temporary file in the same directory and is renamed into place, so a crash
// leaves the old or the new file, never half of one. Reading checks every file strictly and
// names the file and what is wrong with it.
//
// The package does not talk to any cluster (package metroctl/connect does) and does not
// decide when to fetch a CA or a certificate (the metroctl commands and the launcher do). It
// is used by metroctl's commands and by the launcher, which creates a context for each
// cluster it starts.
package config
