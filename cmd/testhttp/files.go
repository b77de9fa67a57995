package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
)

// runWrite writes text to a file, replacing it, and syncs it to its disk: persistent volume
// tests write through a pod and read back through its replacement.
func runWrite(args []string, stdout io.Writer) error {
	pos, err := parseArgs(flag.NewFlagSet("write", flag.ContinueOnError), args, 2)
	if err != nil {
		return err
	}
	f, err := os.Create(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString(pos[1]); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %d bytes to %s\n", len(pos[1]), pos[0])
	return err
}

// runCat prints a file, or its first -bytes (a block device's start).
func runCat(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	n := fs.Int64("bytes", 0, "print only this many bytes from the start (0: all)")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *n < 0 {
		return fmt.Errorf("%w: -bytes %d is negative", errUsage, *n)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if *n > 0 {
		r = io.LimitReader(f, *n)
	}
	_, err = io.Copy(stdout, r)
	return err
}

// runFill writes -mib MiB into a file and syncs them, saying how far it got when the disk
// refuses more: volume size tests expect "no space left on device".
func runFill(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	mib := fs.Int("mib", 1, "how many MiB to write")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *mib <= 0 {
		return fmt.Errorf("%w: -mib %d is not positive", errUsage, *mib)
	}
	f, err := os.Create(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("metropolis"), (1<<20)/10+1)[:1<<20]
	for i := 0; i < *mib; i++ {
		if _, err := f.Write(chunk); err != nil {
			return fmt.Errorf("after %d MiB: %w", i, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("after %d MiB, syncing: %w", *mib, err)
	}
	_, err = fmt.Fprintf(stdout, "wrote %d MiB to %s\n", *mib, pos[0])
	return err
}
