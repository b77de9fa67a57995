package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/event"
)

func TestFilterWaitsForAnAcceptedValue(t *testing.T) {
	isUp := event.Filter(func(s string) bool { return s == "up" })
	cases := []struct {
		name string
		sets []string
		opts []event.GetOption[string]
		want string
		// wantTimeout means no value passes the filters, so Get must end by its context.
		wantTimeout bool
	}{
		{name: "accepted current value is returned", sets: []string{"up"}, opts: []event.GetOption[string]{isUp}, want: "up"},
		{name: "rejected values are skipped", sets: []string{"new", "standby", "up"}, opts: []event.GetOption[string]{isUp}, want: "up"},
		{name: "no accepted value keeps Get waiting", sets: []string{"new", "standby"}, opts: []event.GetOption[string]{isUp}, wantTimeout: true},
		{
			name:        "several filters must all accept",
			sets:        []string{"up"},
			opts:        []event.GetOption[string]{isUp, event.Filter(func(s string) bool { return len(s) > 5 })},
			wantTimeout: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v Value[string]
			w := v.Watch()
			defer w.Close()
			go func() {
				for _, s := range c.sets {
					v.Set(s)
				}
			}()
			timeout := generous
			if c.wantTimeout {
				timeout = 50 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			got, err := w.Get(ctx, c.opts...)
			switch {
			case c.wantTimeout && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("Get = %q, %v; want context.DeadlineExceeded", got, err)
			case !c.wantTimeout && (err != nil || got != c.want):
				t.Fatalf("Get = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestOneShotGetHelper(t *testing.T) {
	var v Value[int]
	go func() {
		for i := 1; i <= 10; i++ {
			v.Set(i)
		}
	}()
	got, err := event.Get(testContext(t), event.Value[int](&v), event.Filter(func(i int) bool { return i >= 10 }))
	if err != nil || got != 10 {
		t.Fatalf("event.Get = %d, %v; want 10", got, err)
	}
}
