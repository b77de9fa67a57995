package mkimage

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints what the build is doing, one line a step, and keeps printing while a long
// step (a cold go build, lz4hc compression) runs, so nobody watches a silent terminal.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	total int
	n     int
	steps []StepTime
}

// StepTime is how long one build step took.
type StepTime struct {
	Name     string
	Duration time.Duration
}

// stillRunningEvery is how often a long step says it is still running.
const stillRunningEvery = 10 * time.Second

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "mkimage: "+format+"\n", args...)
}

// step runs fn as the next numbered step.
func (p *progress) step(name string, fn func() error) error {
	p.n++
	p.printf("[%d/%d] %s", p.n, p.total, name)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(stillRunningEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.printf("      still %s (%s)", name, time.Since(start).Round(time.Second))
			}
		}
	}()
	err := fn()
	close(done)
	d := time.Since(start)
	p.steps = append(p.steps, StepTime{Name: name, Duration: d})
	if err != nil {
		p.printf("      failed after %s", d.Round(10*time.Millisecond))
		return err
	}
	p.printf("      done in %s", d.Round(10*time.Millisecond))
	return nil
}
