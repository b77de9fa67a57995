package timesync

import (
	"fmt"
	"math/bits"
	"time"

	"golang.org/x/sys/unix"
)

// Clock is what the service adjusts: the machine's clock, or a fake in tests.
type Clock interface {
	// Step moves the clock by offset at once.
	Step(offset time.Duration) error
	// Slew has the clock take offset out gradually, at a pace fitting the poll interval, and
	// records how wrong it may still be (maxError), which also marks it synchronised.
	Slew(offset, maxError, poll time.Duration) error
}

// KernelClock is the machine's clock, adjusted through adjtimex(2). It needs CAP_SYS_TIME.
type KernelClock struct{}

// maxKernelOffset is the most the kernel's loop takes in one update; it clamps larger ones.
const maxKernelOffset = 500 * time.Millisecond

// Step sets the clock by offset relative to itself (ADJ_SETOFFSET: atomic, no read-then-set
// race), then marks it synchronised again: a step clears the kernel's sync status.
func (KernelClock) Step(offset time.Duration) error {
	sec, nsec := offset.Nanoseconds()/1e9, offset.Nanoseconds()%1e9
	if nsec < 0 { // the kernel wants the fraction in [0, 1 s)
		sec, nsec = sec-1, nsec+1e9
	}
	tx := unix.Timex{Modes: unix.ADJ_SETOFFSET | unix.ADJ_NANO, Time: unix.Timeval{Sec: sec, Usec: nsec}}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("step the clock by %v: %w", offset, err)
	}
	return KernelClock{}.Slew(0, 0, 0)
}

// Slew hands offset to the kernel's phase-locked loop (ADJ_OFFSET with STA_PLL, as ntpd does),
// whose time constant follows the poll interval, and sets the error bounds; a status without
// STA_UNSYNC marks the clock synchronised (and has the kernel keep the hardware clock set).
func (KernelClock) Slew(offset, maxError, poll time.Duration) error {
	offset = max(min(offset, maxKernelOffset), -maxKernelOffset)
	tx := unix.Timex{
		Modes: unix.ADJ_OFFSET | unix.ADJ_NANO | unix.ADJ_STATUS | unix.ADJ_TIMECONST |
			unix.ADJ_MAXERROR | unix.ADJ_ESTERROR,
		Offset:   offset.Nanoseconds(),
		Status:   unix.STA_PLL,
		Constant: timeConstant(poll),
		Maxerror: maxError.Microseconds(),
		Esterror: maxError.Microseconds(),
	}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("slew the clock by %v: %w", offset, err)
	}
	return nil
}

// timeConstant is the kernel loop's time constant for a poll interval: log2(seconds) - 4, as
// ntpd sets it, within the kernel's 0-10.
func timeConstant(poll time.Duration) int64 {
	s := uint64(max(poll/time.Second, 1))
	return int64(max(min(63-bits.LeadingZeros64(s)-4, 10), 0))
}
