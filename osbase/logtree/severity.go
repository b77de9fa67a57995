package logtree

import "fmt"

// Severity is the importance of a leveled log entry, in glog's four steps.
// The zero value is not a severity: raw entries have none.
type Severity uint8

const (
	// INFO is routine progress an operator may want when debugging.
	INFO Severity = iota + 1
	// WARNING is something unexpected that the service recovered from.
	WARNING
	// ERROR is a failure the service could not hide: a request or a step failed.
	ERROR
	// FATAL is a failure that ends the runnable (and, via the supervisor, restarts it).
	FATAL
)

// String returns the full upper-case name, such as "WARNING".
func (s Severity) String() string {
	switch s {
	case INFO:
		return "INFO"
	case WARNING:
		return "WARNING"
	case ERROR:
		return "ERROR"
	case FATAL:
		return "FATAL"
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// Letter returns the one-letter form used at the start of a formatted line
// (I, W, E, F), or '?' for an invalid severity.
func (s Severity) Letter() byte {
	switch s {
	case INFO:
		return 'I'
	case WARNING:
		return 'W'
	case ERROR:
		return 'E'
	case FATAL:
		return 'F'
	}
	return '?'
}

// Valid reports whether s is one of INFO, WARNING, ERROR or FATAL.
func (s Severity) Valid() bool {
	return s >= INFO && s <= FATAL
}

// AtLeast reports whether s is as severe as other or more.
func (s Severity) AtLeast(other Severity) bool {
	return s >= other
}

// SeverityFromLetter maps glog's letters (I, W, E, F) to a Severity.
func SeverityFromLetter(c byte) (Severity, bool) {
	switch c {
	case 'I':
		return INFO, true
	case 'W':
		return WARNING, true
	case 'E':
		return ERROR, true
	case 'F':
		return FATAL, true
	}
	return 0, false
}

// ParseSeverity accepts a full name ("WARNING") or a letter ("W"), as an API
// filter or a command line flag would give it.
func ParseSeverity(s string) (Severity, error) {
	for _, sev := range []Severity{INFO, WARNING, ERROR, FATAL} {
		if s == sev.String() || (len(s) == 1 && s[0] == sev.Letter()) {
			return sev, nil
		}
	}
	return 0, fmt.Errorf("severity %q: want one of INFO, WARNING, ERROR, FATAL (or I, W, E, F)", s)
}
