// Package image holds the end-to-end tests of the node image: it builds the image (kernel,
// initramfs, verified system partition, unified kernel image, GPT disk) and boots it in QEMU
// with OVMF and a software TPM, as root. Under TCG (no /dev/kvm) each boot takes a minute or
// so; the tests share one image build and one VM where they can.
package image
