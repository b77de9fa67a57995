package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/osbase/devicemapper"
	"metropolis.dev/metropolis/osbase/logtree"
)

// Install reads a bundle from r and installs it in the other slot, to be tried at the next
// boot (see the package comment). target names the rollout attempt that asked for it
// (node/rollout.Target), kept with the slot; "" for an update by hand. Errors wrap ErrBusy, ErrUnsupported or ErrRefused where
// those are the cause. On any error the running slot, the default boot and the sealed
// record's chains are as before; the other slot holds nothing bootable.
func (s *Service) Install(ctx context.Context, r io.Reader, target string, log logtree.LeveledLogger) (*apb.BundleManifest, string, error) {
	if !s.installing.TryLock() {
		return nil, "", ErrBusy
	}
	defer s.installing.Unlock()
	if s.fw == nil {
		return nil, "", fmt.Errorf("%w: the machine has no EFI variables, so it cannot boot a new release once", ErrUnsupported)
	}
	if len(s.cfg.Keys) == 0 {
		return nil, "", fmt.Errorf("%w: its release trusts no release key (the image was built without -release-pubkey)", ErrUnsupported)
	}
	br, err := bundle.Open(r, s.cfg.Keys)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	m := br.Manifest()
	log.Infof("installing release %s (build %s, signed by %s)", m.Version, m.BuildId, br.KeyID())
	next, slot, err := beginInstall(s.Current())
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	part, ok := s.cfg.Slots[slot]
	if !ok {
		return nil, "", fmt.Errorf("%w: the disk has no system slot %s", ErrUnsupported, slot)
	}
	if sys := bundle.FindPart(m, bundle.PartSystem); uint64(sys.Size) > part.Bytes() {
		return nil, "", fmt.Errorf("%w: the system part (%d bytes) does not fit slot %s (%d bytes)", ErrRefused, sys.Size, slot, part.Bytes())
	}
	// From here the other slot is scratch: nothing may boot it until it is verified.
	if err := s.fw.clearTrial(); err != nil {
		return nil, "", err
	}
	if err := os.Remove(filepath.Join(s.cfg.ESPDir, layout.ESPSlotUKIPath(slot))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("remove slot %s's old UKI: %w", slot, err)
	}
	if err := s.store(next); err != nil {
		return nil, "", err
	}
	if err := s.reseal(next); err != nil {
		return nil, "", err
	}

	uki, err := s.receive(ctx, br, part.Path, log)
	if err != nil {
		return nil, "", err
	}
	if err := checkUKI(uki, m); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	v, err := layout.ParseVerity(m.SystemVerity)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	log.Infof("reading slot %s back through dm-verity", slot)
	check := "verify-" + strings.ToLower(slot)
	if _, err := slots.OpenVerified(ctx, check, part, v, func(done, total uint64) {
		log.Infof("verified %d of %d MiB of slot %s", done>>20, total>>20, slot)
	}); err != nil {
		return nil, "", fmt.Errorf("slot %s as written does not match the bundle's root hash: %w", slot, err)
	}
	if err := devicemapper.Remove(check); err != nil {
		return nil, "", fmt.Errorf("remove the verification device %s: %w", check, err)
	}
	if err := writeESP(s.cfg.ESPDir, layout.ESPSlotUKIPath(slot), uki); err != nil {
		return nil, "", err
	}
	next = staged(next, slot, m, target)
	if err := s.reseal(next); err != nil {
		return nil, "", fmt.Errorf("%w: sealing the record to the new release's boot chain: %w", ErrUnsupported, err)
	}
	if err := s.fw.armTrial(slot); err != nil {
		return nil, "", err
	}
	if err := s.store(next); err != nil {
		return nil, "", err
	}
	log.Infof("release %s staged in slot %s; the next boot tries it once", m.Version, slot)
	return m, slot, nil
}

// receive reads the bundle's parts: the UKI into memory, the system into the slot device at
// path (synced), anything else skipped. It returns the UKI.
func (s *Service) receive(ctx context.Context, br *bundle.Reader, path string, log logtree.LeveledLogger) ([]byte, error) {
	var uki []byte
	for {
		p, pr, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch p.Name {
		case bundle.PartUKI:
			if uki, err = io.ReadAll(pr); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrRefused, err)
			}
		case bundle.PartSystem:
			log.Infof("writing the system (%d MiB) to %s", p.Size>>20, path)
			if err := writeDevice(path, pr); err != nil {
				return nil, err
			}
		default:
			if _, err := io.Copy(io.Discard, pr); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrRefused, err)
			}
		}
	}
	return uki, nil
}

// writeDevice copies r to the block device at path and syncs it. A read error (a bundle
// that does not match its manifest) is ErrRefused.
func writeDevice(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var readErr error
	_, err = io.Copy(f, readerFunc(func(b []byte) (int, error) {
		n, err := r.Read(b)
		if err != nil && err != io.EOF {
			readErr = err
		}
		return n, err
	}))
	if readErr != nil {
		return fmt.Errorf("%w: %w", ErrRefused, readErr)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// checkUKI checks that the UKI boots the bundle's system and is what the manifest measured.
func checkUKI(uki []byte, m *apb.BundleManifest) error {
	got, err := measure(uki)
	if err != nil {
		return fmt.Errorf("UKI: %w", err)
	}
	if !bytes.Equal(got.uki, m.Measurements.UkiAuthenticodeSha256) || !bytes.Equal(got.kernel, m.Measurements.KernelAuthenticodeSha256) {
		return errors.New("the UKI's Authenticode digests are not the manifest's measurements")
	}
	cmdline, err := ukiCmdline(uki)
	if err != nil {
		return err
	}
	if v, _ := layout.CmdlineValue(cmdline, layout.VerityCmdlineKey); v != m.SystemVerity {
		return errors.New("the UKI's command line does not name the bundle's system partition")
	}
	return nil
}
