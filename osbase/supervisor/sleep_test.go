package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleepUntil(t *testing.T) {
	start := time.Now()
	if err := SleepUntil(context.Background(), start.Add(20*time.Millisecond)); err != nil {
		t.Fatalf("SleepUntil: %v", err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Error("returned before the deadline")
	}
	if err := SleepUntil(context.Background(), start.Add(-time.Hour)); err != nil {
		t.Errorf("a past deadline: %v, want nil at once", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := SleepUntil(ctx, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}
