package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSpinStops: spin ends after -for, and at once when its context ends.
func TestSpinStops(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	if code := run(context.Background(), []string{"spin", "-for", "50ms"}, &out, &out); code != 0 {
		t.Fatalf("spin -for 50ms: exit status %d: %s", code, out.String())
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("spin -for 50ms returned after %v", took)
	}
	if !strings.Contains(out.String(), "spinning for 50ms") {
		t.Errorf("output %q, want it to say how long it spins", out.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"spin", "-for", "1h"}, &bytes.Buffer{}, &bytes.Buffer{}) }()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("spin stopped by its context: exit status %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("spin -for 1h still running 30s after its context ended")
	}
}
