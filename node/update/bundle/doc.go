// Package bundle is the update bundle format: how one release of the node's software travels
// from the image builder (build/mkimage -bundle) to a node (node/update), and how the node
// decides to trust it.
//
// A bundle is an uncompressed tar file (its parts are compressed already), readable with any
// tar tool:
//
//	manifest.pb   the release's apb.BundleManifest (version, build ID, parts with sizes and
//	              SHA-256, the system partition's verity parameters, boot measurements)
//	manifest.sig  ed25519 signature over "metropolis bundle manifest v1\x00" + manifest.pb
//	uki.efi       the unified kernel image      } in the manifest's order, each exactly as
//	system.img    erofs + dm-verity hash tree   } large as the manifest says
//
// The manifest comes first, so a reader checks the signature before it takes a single byte
// of a part, and can stream each part to where it belongs while hashing it. A part is only
// good once its last byte has been read and its hash matched; Reader says so, or returns an
// error naming what is wrong (never echoing more than a few dozen bytes of the input).
//
// Release keys are ed25519 keys in the PEM encodings openssl writes (PKCS#8 private keys,
// PKIX public keys), so operators make and keep them with the tools they already trust:
//
//	openssl genpkey -algorithm ed25519 -out release.key
//	openssl pkey -in release.key -pubout -out release.pub
//
// The package owns the format and the trust decision; it does not know where parts go on a
// disk (node/update) or how they are built (build/mkimage).
package bundle
