package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/node/update/bundle/bundletest"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// TestFollowFetchesAndReportsAFailure: the follower fetches the bundle from the first source
// that has one that verifies (the first source sends garbage), keeps it, and when the node
// cannot install it (this test's node has no EFI variables) gives the attempt up and reports
// it, without trying again.
func TestFollowFetchesAndReportsAFailure(t *testing.T) {
	key := bundletest.NewKey(t)
	b := bundletest.Make(t, key, "2.0.0")
	sum := sha256.Sum256(b)
	keeper := NewKeeper(t.TempDir(), []ed25519.PublicKey{key.Public})
	rec := &apb.NodeSoftware{Version: "1.0.0", BuildId: "b1", RunningSlot: "A", Slots: []*apb.Slot{
		{Name: "A", State: apb.SlotState_SLOT_STATE_COMMITTED, BuildId: "b1"}, {Name: "B", State: apb.SlotState_SLOT_STATE_EMPTY}}}
	s := &Service{cfg: Config{Keys: []ed25519.PublicKey{key.Public}}, rec: rec}

	br, err := bundle.Open(bytes.NewReader(b), []ed25519.PublicKey{key.Public})
	if err != nil {
		t.Fatal(err)
	}
	manifest := br.Manifest()
	var targets memory.Value[*cpb.UpdateTarget]
	targets.Set(&cpb.UpdateTarget{
		Target: "rollout-1/1", Release: manifest, BundleSha256: sum[:], BundleSize: int64(len(b)),
		Sources: []*cpb.BundleSource{{NodeId: "broken"}, {NodeId: "good"}},
	})
	fetched := make(chan string, 10)
	cfg := FollowConfig{
		Targets: func() event.Watcher[*cpb.UpdateTarget] { return targets.Watch() },
		Keeper:  keeper,
		Fetch: func(ctx context.Context, src *cpb.BundleSource, _ []byte) (io.ReadCloser, error) {
			fetched <- src.NodeId
			if src.NodeId == "broken" {
				return io.NopCloser(strings.NewReader("not a bundle")), nil
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		},
		Reboot: func(context.Context) error { return errors.New("the test never reboots") },
		Retry:  time.Hour,
	}
	sw := s.Software()
	defer sw.Close()
	supervisor.TestHarness(t, s.Follow(cfg))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := sw.Get(ctx, event.Filter(func(v *apb.NodeSoftware) bool { return v.GetLastFailure() != nil }))
	if err != nil {
		t.Fatalf("no failure reported: %v", err)
	}
	if f := got.LastFailure; f.RolloutId != "rollout-1/1" || !strings.Contains(f.Message, "cannot install updates") {
		t.Errorf("failure %v", f)
	}
	if !keeper.Has(sum[:]) {
		t.Error("the fetched bundle is not kept")
	}
	if a, b := <-fetched, <-fetched; a != "broken" || b != "good" {
		t.Errorf("fetched from %s, then %s", a, b)
	}
	select {
	case src := <-fetched:
		t.Errorf("fetched again (from %s) after giving up", src)
	case <-time.After(100 * time.Millisecond):
	}
}
