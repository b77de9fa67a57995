//go:build !linux

package apiproxy

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist: keepalive probes alone
// end a connection to a controller that stopped answering.
func setUserTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
