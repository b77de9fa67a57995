package grow

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, 1500*time.Millisecond)
	tries := 0
	v, err := WaitFor(context.Background(), p, "the third try", func(context.Context) (int, error) {
		tries++
		if tries < 3 {
			return 0, errors.New("not yet")
		}
		return tries, nil
	})
	if err != nil || v != 3 {
		t.Errorf("WaitFor = %v, %v; want 3, nil", v, err)
	}
	if !strings.Contains(out.String(), "waiting for the third try") {
		t.Errorf("progress did not say what it waits for: %q", out.String())
	}

	tries = 0
	_, err = WaitFor(context.Background(), p, "a lost cause", func(context.Context) (int, error) {
		tries++
		return 0, Permanent(errors.New("the VM has ended"))
	})
	if err == nil || err.Error() != "the VM has ended" || tries != 1 {
		t.Errorf("a permanent error: %v after %d tries; want it at once", err, tries)
	}

	_, err = WaitFor(context.Background(), p, "never", func(context.Context) (int, error) {
		return 0, errors.New("still no")
	})
	if err == nil || !strings.Contains(err.Error(), "gave up waiting for never") || !strings.Contains(err.Error(), "still no") {
		t.Errorf("timeout error = %v; want one naming the wait and the last error", err)
	}
}
