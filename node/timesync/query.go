package timesync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/ntp"
)

// ErrAnsweredUnusably is in the error of a question a server answered, but not usably (it is
// not synchronised itself, or its distance is too large): unlike silence, the server is there
// and knows no better time.
var ErrAnsweredUnusably = errors.New("answered, unusably")

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
		return Sample{}, fmt.Errorf("%s %w: %w", server, ErrAnsweredUnusably, err)
	}
	return Sample{Server: server, Offset: r.ClockOffset, RTT: r.RTT, RootDistance: r.RootDistance, Stratum: r.Stratum}, nil
}
