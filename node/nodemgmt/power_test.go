package nodemgmt

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/eventually"
)

func TestPowerActionsRunAfterTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(context.Context, apb.NodeManagementClient) error
		// want is the Power method that must be called.
		want string
		// powerErr is what Power returns; wantLog is what must then appear in the log.
		powerErr error
		wantLog  string
	}{
		{
			name: "reboot",
			call: func(ctx context.Context, c apb.NodeManagementClient) error {
				_, err := c.Reboot(ctx, &apb.RebootRequest{})
				return err
			},
			want:    "reboot",
			wantLog: "reboot under way",
		},
		{
			name: "shutdown",
			call: func(ctx context.Context, c apb.NodeManagementClient) error {
				_, err := c.Shutdown(ctx, &apb.ShutdownRequest{})
				return err
			},
			want:    "shutdown",
			wantLog: "shutdown under way",
		},
		{
			name: "a failing reboot is logged, since the caller already has its answer",
			call: func(ctx context.Context, c apb.NodeManagementClient) error {
				_, err := c.Reboot(ctx, &apb.RebootRequest{})
				return err
			},
			want:     "reboot",
			powerErr: errors.New("firmware says no"),
			wantLog:  "firmware says no",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var answered atomic.Bool
			tn := startNode(t, testOptions{unaryDone: func() { answered.Store(true) }})
			tn.power.fail = tc.powerErr

			// Power blocks until released: the answer must not wait for it.
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := tc.call(ctx, tn.client); err != nil {
				t.Fatalf("call: %v", err)
			}
			if err := logged(tn.logs, serviceDN, tc.want+" requested"); err != nil {
				t.Errorf("request not logged: %v", err)
			}

			select {
			case got := <-tn.power.calls:
				if got != tc.want {
					t.Errorf("Power.%s called, want %s", got, tc.want)
				}
				if !answered.Load() {
					t.Error("Power called before the handler had answered")
				}
			case <-time.After(patience):
				t.Fatalf("Power.%s not called within %v", tc.want, patience)
			}
			close(tn.power.release)
			eventually.Pass(t, patience, "outcome logged", func(context.Context) error { return logged(tn.logs, serviceDN, tc.wantLog) })
			select {
			case got := <-tn.power.calls:
				t.Errorf("Power.%s called again, want one call", got)
			default:
			}
		})
	}
}
