package logtree

import (
	"strconv"
	"strings"
	"time"
)

// ParseKlog is a LineParser for the header klog and glog put on every line,
// as written by Kubernetes components started as child processes:
//
//	I0102 15:04:05.000000    1234 file.go:12] message
//
// The header carries no year, so it is taken from the current time (see
// ParseKlogAt). Lines without a well-formed header stay raw.
func ParseKlog(line string) (ExternalEntry, bool) {
	return ParseKlogAt(line, time.Now())
}

// ParseKlogAt parses a klog line relative to now: the entry gets now's year
// and location, or the previous year if that would put it more than a day in
// the future (a line written on 31 December, read on 1 January).
func ParseKlogAt(line string, now time.Time) (ExternalEntry, bool) {
	var e ExternalEntry
	// "Lmmdd hh:mm:ss" is the fixed-width part.
	if len(line) < 14 || line[5] != ' ' || line[8] != ':' || line[11] != ':' {
		return e, false
	}
	sev, ok := SeverityFromLetter(line[0])
	if !ok {
		return e, false
	}
	month, ok1 := digits(line[1:3])
	day, ok2 := digits(line[3:5])
	hour, ok3 := digits(line[6:8])
	minute, ok4 := digits(line[9:11])
	second, ok5 := digits(line[12:14])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || hour > 23 || minute > 59 || second > 59 {
		return e, false
	}
	rest := line[14:]

	nanos := 0
	if strings.HasPrefix(rest, ".") {
		frac := rest[1:]
		end := strings.IndexByte(frac, ' ')
		if end < 1 || end > 9 {
			return e, false
		}
		v, ok := digits(frac[:end])
		if !ok {
			return e, false
		}
		nanos = v
		for i := end; i < 9; i++ {
			nanos *= 10
		}
		rest = frac[end:]
	}

	// Thread ID: right-aligned, so any number of spaces before it.
	rest = strings.TrimLeft(rest, " ")
	sp := strings.IndexByte(rest, ' ')
	if sp < 1 {
		return e, false
	}
	if _, ok := digits(rest[:sp]); !ok {
		return e, false
	}
	rest = rest[sp+1:]

	// "file.go:12] message"
	end := strings.Index(rest, "]")
	if end < 0 {
		return e, false
	}
	loc, msg := rest[:end], rest[end+1:]
	if msg != "" {
		if msg[0] != ' ' {
			return e, false
		}
		msg = msg[1:]
	}
	colon := strings.LastIndexByte(loc, ':')
	if colon < 1 || strings.ContainsAny(loc[:colon], " \t") {
		return e, false
	}
	lineNo, ok := digits(loc[colon+1:])
	if !ok {
		return e, false
	}

	t, ok := klogTime(now, month, day, hour, minute, second, nanos)
	if !ok {
		return e, false
	}
	return ExternalEntry{Time: t, Severity: sev, File: loc[:colon], Line: lineNo, Message: msg}, true
}

// klogTime picks the year for a year-less timestamp and rejects dates that do
// not exist (such as 31 April, or 29 February in a common year).
func klogTime(now time.Time, month, day, hour, minute, second, nanos int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	year := now.Year()
	t := time.Date(year, time.Month(month), day, hour, minute, second, nanos, now.Location())
	if t.After(now.Add(24 * time.Hour)) {
		year--
		t = time.Date(year, time.Month(month), day, hour, minute, second, nanos, now.Location())
	}
	if t.Month() != time.Month(month) || t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

// digits parses a non-empty run of ASCII digits of at most nine, which
// cannot overflow an int.
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.Atoi(s)
	return v, err == nil
}
