package main

import (
	"strings"

	"golang.org/x/sys/unix"
)

// flagEffect is what one option word does to the mount(2) flags: later words win, as in
// util-linux, so "ro,rw" is read-write.
type flagEffect struct {
	set, clear uintptr
}

// flagOptions are the option words that are mount(2) flags rather than filesystem data.
// "defaults" is here with no effect: util-linux gives it none either, and mount-utils
// appends it after "ro" when it formats and mounts a disk.
var flagOptions = map[string]flagEffect{
	"defaults":      {},
	"ro":            {set: unix.MS_RDONLY},
	"rw":            {clear: unix.MS_RDONLY},
	"nosuid":        {set: unix.MS_NOSUID},
	"suid":          {clear: unix.MS_NOSUID},
	"nodev":         {set: unix.MS_NODEV},
	"dev":           {clear: unix.MS_NODEV},
	"noexec":        {set: unix.MS_NOEXEC},
	"exec":          {clear: unix.MS_NOEXEC},
	"sync":          {set: unix.MS_SYNCHRONOUS},
	"async":         {clear: unix.MS_SYNCHRONOUS},
	"dirsync":       {set: unix.MS_DIRSYNC},
	"remount":       {set: unix.MS_REMOUNT},
	"bind":          {set: unix.MS_BIND},
	"rbind":         {set: unix.MS_BIND | unix.MS_REC},
	"noatime":       {set: unix.MS_NOATIME},
	"atime":         {clear: unix.MS_NOATIME},
	"nodiratime":    {set: unix.MS_NODIRATIME},
	"diratime":      {clear: unix.MS_NODIRATIME},
	"relatime":      {set: unix.MS_RELATIME},
	"norelatime":    {clear: unix.MS_RELATIME},
	"strictatime":   {set: unix.MS_STRICTATIME},
	"nostrictatime": {clear: unix.MS_STRICTATIME},
	"lazytime":      {set: unix.MS_LAZYTIME},
	"nolazytime":    {clear: unix.MS_LAZYTIME},
	"mand":          {set: unix.MS_MANDLOCK},
	"nomand":        {clear: unix.MS_MANDLOCK},
	"iversion":      {set: unix.MS_I_VERSION},
	"noiversion":    {clear: unix.MS_I_VERSION},
	"nosymfollow":   {set: unix.MS_NOSYMFOLLOW},
	"symfollow":     {clear: unix.MS_NOSYMFOLLOW},
	"silent":        {set: unix.MS_SILENT},
	"loud":          {clear: unix.MS_SILENT},
}

// propagationOptions change a mount's propagation type. The kernel takes each in a mount(2)
// call of its own, carrying no other flag.
var propagationOptions = map[string]uintptr{
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// userspaceOptions mean something to util-linux's fstab handling or to a boot system, never
// to the kernel; util-linux drops them before mount(2), and so do we. mount-utils carries
// "_netdev" over into bind mounts.
var userspaceOptions = map[string]bool{
	"_netdev": true,
	"nofail":  true,
	"auto":    true,
	"noauto":  true,
}

// refusedOptions are util-linux features this command does not have. Passing them on as
// filesystem data would make the kernel fail with a less helpful message, or worse, succeed
// without doing what they ask.
var refusedOptions = map[string]string{
	"loop":       "loop devices are not supported (no losetup on the node)",
	"offset":     "loop devices are not supported (no losetup on the node)",
	"sizelimit":  "loop devices are not supported (no losetup on the node)",
	"encryption": "loop devices are not supported (no losetup on the node)",
	"user":       "user mounts are not supported (this mount is not setuid)",
	"nouser":     "user mounts are not supported (this mount is not setuid)",
	"users":      "user mounts are not supported (this mount is not setuid)",
	"owner":      "user mounts are not supported (this mount is not setuid)",
	"noowner":    "user mounts are not supported (this mount is not setuid)",
	"group":      "user mounts are not supported (this mount is not setuid)",
	"nogroup":    "user mounts are not supported (this mount is not setuid)",
	"helper":     "mount helpers are not supported (the node ships none)",
}

// maxDataLen is the longest filesystem data string the kernel reads: it copies one page,
// and the string must end within it.
const maxDataLen = 4095

// parsedOptions is an options string split into what goes where.
type parsedOptions struct {
	// Flags are the MS_* flags for the main mount(2) call.
	Flags uintptr
	// Propagation holds one MS_* propagation value (maybe with MS_REC) per propagation
	// word, in order; each becomes its own call.
	Propagation []uintptr
	// Data is the filesystem's own options, comma-joined in their given order.
	Data string
}

// parseOptions splits comma-separated util-linux options strings (the arguments of -o, in
// order: later words win across them too). Commas inside double quotes do not split, as in
// util-linux, so an SELinux context="a,b" stays one word; the quotes are passed on to the
// kernel, which expects them. Empty words are skipped, as util-linux does.
func parseOptions(optionStrings ...string) (parsedOptions, error) {
	var p parsedOptions
	var words []string
	for _, s := range optionStrings {
		w, err := splitOptions(s)
		if err != nil {
			return p, err
		}
		words = append(words, w...)
	}
	var data []string
	for _, word := range words {
		name, _, hasValue := strings.Cut(word, "=")
		if strings.ContainsRune(word, 0) {
			return p, badToken(word, "option contains a NUL byte")
		}
		if !hasValue {
			if effect, ok := flagOptions[word]; ok {
				p.Flags = p.Flags&^effect.clear | effect.set
				continue
			}
			if prop, ok := propagationOptions[word]; ok {
				p.Propagation = append(p.Propagation, prop)
				continue
			}
			if userspaceOptions[word] {
				continue
			}
		}
		if reason, ok := refusedOptions[name]; ok {
			return p, badToken(word, "%s", reason)
		}
		if strings.HasPrefix(name, "X-mount.") {
			return p, badToken(word, "util-linux's X-mount.* options are not supported")
		}
		if strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "X-") || name == "comment" {
			// Comments for userspace (fstab, systemd); util-linux never hands them over.
			continue
		}
		data = append(data, word)
	}
	p.Data = strings.Join(data, ",")
	if len(p.Data) > maxDataLen {
		return p, badUsage("filesystem options are %d bytes long; the kernel reads at most %d", len(p.Data), maxDataLen)
	}
	return p, nil
}

// splitOptions splits at commas that are not inside double quotes, dropping empty words.
func splitOptions(s string) ([]string, error) {
	var words []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				if i > start {
					words = append(words, s[start:i])
				}
				start = i + 1
			}
		}
	}
	if quoted {
		return nil, badToken(s[start:], "option has an unbalanced double quote")
	}
	if start < len(s) {
		words = append(words, s[start:])
	}
	return words, nil
}
