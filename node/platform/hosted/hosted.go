// Package hosted is the platform for a Metropolis node that runs as an ordinary process: a
// state directory stands in for the encrypted data partition, node parameters come from a file,
// and the address is given on the command line (the launcher runs each node in its own network
// namespace). It exists so that tests and developers can run many nodes on one machine in
// seconds. It is not a security boundary: nothing is encrypted or sealed, and the node says so in
// its log when it starts.
//
// Reboot re-executes the node program in the same process slot after its services stopped, so a
// rebooted hosted node keeps its namespace and its state directory, like a machine keeps its
// disk; Shutdown ends the process.
package hosted

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/netconfig"
)

// Platform is a hosted node's platform. Create it with New.
type Platform struct {
	stateDir       string
	parametersFile string
	address        net.IP

	mu       sync.Mutex
	stopping Stop
	stop     context.CancelFunc
}

// Stop says how the node program should end once its services have stopped.
type Stop int

const (
	// StopNone: the node has not been asked to stop.
	StopNone Stop = iota
	// StopShutdown: exit.
	StopShutdown
	// StopReboot: start the node program again.
	StopReboot
)

// New checks the hosted node's settings. stop is called to stop the node's services when a
// reboot or shutdown is requested.
func New(stateDir, parametersFile, address string, stop context.CancelFunc) (*Platform, error) {
	ip := net.ParseIP(address)
	if ip == nil {
		return nil, fmt.Errorf("hosted platform: address %q is not an IP address", address)
	}
	if stateDir == "" {
		return nil, errors.New("hosted platform: state directory is empty")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("hosted platform: state directory: %w", err)
	}
	return &Platform{stateDir: stateDir, parametersFile: parametersFile, address: ip, stop: stop}, nil
}

// Kind implements platform.Platform.
func (p *Platform) Kind() string { return "hosted" }

// StateDir implements platform.Platform.
func (p *Platform) StateDir() string { return p.stateDir }

// Network implements platform.Platform: a hosted node's network is its namespace's, which the
// launcher made.
func (p *Platform) Network() *netconfig.Service { return nil }

// Address implements platform.Platform.
func (p *Platform) Address(context.Context) (net.IP, error) { return p.address, nil }

// Parameters reads the node parameters file (binary protobuf, as on an image's ESP), if one was
// given, and validates it.
func (p *Platform) Parameters() (*apb.NodeParameters, error) {
	if p.parametersFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(p.parametersFile)
	if err != nil {
		return nil, fmt.Errorf("node parameters: %w", err)
	}
	var params apb.NodeParameters
	if err := proto.Unmarshal(data, &params); err != nil {
		return nil, fmt.Errorf("node parameters %s: not a NodeParameters protobuf: %w", p.parametersFile, err)
	}
	if err := apb.ValidateNodeParameters(&params); err != nil {
		return nil, fmt.Errorf("node parameters %s: %w", p.parametersFile, err)
	}
	return &params, nil
}

// Reboot implements platform.Platform.
func (p *Platform) Reboot(context.Context) error { return p.request(StopReboot) }

// Shutdown implements platform.Platform.
func (p *Platform) Shutdown(context.Context) error { return p.request(StopShutdown) }

func (p *Platform) request(s Stop) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping != StopNone {
		return errors.New("the node is already stopping")
	}
	p.stopping = s
	p.stop()
	return nil
}

// Stopping says what was requested, for the node program to act on once its services stopped.
func (p *Platform) Stopping() Stop {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}
