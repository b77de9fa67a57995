package timesync

import (
	"context"
	"fmt"
	"time"

	"github.com/beevik/ntp"
)

// queryTimeout bounds one question to one server.
const queryTimeout = 2 * time.Second

// QueryNTP asks server (host or host:port, port 123 by default) once, with upstream's NTP
// client, and keeps the answer only if it is usable (a synchronised server, a sane stratum and
// root distance).
func QueryNTP(ctx context.Context, server string) (Sample, error) {
	timeout := queryTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return Sample{}, fmt.Errorf("ask %s: %w", server, context.DeadlineExceeded)
	}
	r, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: timeout})
	if err != nil {
		return Sample{}, fmt.Errorf("ask %s: %w", server, err)
	}
	if err := r.Validate(); err != nil {
		return Sample{}, fmt.Errorf("%s answered, unusably: %w", server, err)
	}
	return Sample{Server: server, Offset: r.ClockOffset, RTT: r.RTT, RootDistance: r.RootDistance, Stratum: r.Stratum}, nil
}
