package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"
)

// goResolver is Go's own resolver: /etc/hosts, then the servers and search domains of
// /etc/resolv.conf, as in a pod (the binary is static, so there is no libc resolver).
var goResolver = &net.Resolver{PreferGo: true}

func runResolve(ctx context.Context, args []string, stdout io.Writer, resolver *net.Resolver) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "time limit for the lookup")
	rest, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	addrs, err := resolver.LookupHost(ctx, rest[0])
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if _, err := fmt.Fprintln(stdout, addr); err != nil {
			return err
		}
	}
	return nil
}
