package timesync

import (
	"fmt"
	"time"
)

const (
	// StepThreshold is the offset beyond which the first synchronisation after boot steps the
	// clock instead of slewing it. The kernel's loop slews at most 0.5 s per update and takes
	// minutes for much less; a node that has just booted from a hardware clock seconds off
	// would otherwise judge certificates and leases by a wrong time for hours.
	StepThreshold = 400 * time.Millisecond
	// FarOff is the offset beyond which a node says loudly that its clock is wrong, and a
	// synchronised clock is stepped again (the machine was suspended, or someone set it):
	// slewing 10 s takes hours.
	FarOff = 10 * time.Second
)

// Sample is one server's answer: how far this node's clock is off it (positive: the node is
// behind), the round trip, and the server's own distance from its reference clock.
type Sample struct {
	Server       string
	Offset       time.Duration
	RTT          time.Duration
	RootDistance time.Duration
	Stratum      uint8
}

// distance bounds how wrong the sample can be: half the round trip (the answer's travel time
// is unknown in each direction) plus the server's own distance from its reference.
func (s Sample) distance() time.Duration { return s.RTT/2 + s.RootDistance }

// Best picks the sample to trust from a burst of answers: the one with the smallest distance
// (the least delayed round trip, on a loaded machine), lower stratum on a tie. False when
// there are none.
func Best(samples []Sample) (Sample, bool) {
	var best Sample
	for i, s := range samples {
		if i == 0 || s.distance() < best.distance() || s.distance() == best.distance() && s.Stratum < best.Stratum {
			best = s
		}
	}
	return best, len(samples) > 0
}

// Adjustment is how the clock is corrected.
type Adjustment int

const (
	// Slew has the kernel's loop take the offset out gradually; time never jumps.
	Slew Adjustment = iota
	// Step sets the clock at once.
	Step
	// Measured leaves the clock alone: a node that shares its machine's clock (hosted) only
	// measures it.
	Measured
)

func (a Adjustment) String() string {
	switch a {
	case Step:
		return "step"
	case Measured:
		return "measured"
	}
	return "slew"
}

// Action is what to do about a sample.
type Action struct {
	Adjust Adjustment
	Offset time.Duration
	// Warning, if not empty, is said loudly: in the node's status and log.
	Warning string
}

// Decide says how to correct the clock by sample s. synced tells whether the clock was
// synchronised before: the first synchronisation steps anything beyond StepThreshold, later
// ones only what is beyond FarOff.
func Decide(s Sample, synced bool) Action {
	a := Action{Adjust: Slew, Offset: s.Offset}
	off := s.Offset.Abs()
	if off > StepThreshold && !synced || off > FarOff {
		a.Adjust = Step
	}
	if off > FarOff {
		a.Warning = fmt.Sprintf("the clock was %v off %s's (more than %v): stepped", s.Offset.Round(time.Millisecond), s.Server, FarOff)
	}
	return a
}
