package pcapfilter

import (
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzCompile: any text either is refused or compiles to a program the kernel's checks would
// take (it assembles, loads into the interpreter, and runs over a frame without error).
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"tcp port 80", "host 10.0.0.1 and not udp", "(src net fd00::/8 or dst portrange 1-1024) && !icmp6", "arp or ip6", "((tcp"} {
		f.Add(s)
	}
	pkt := frame(f, "10.0.0.1", "10.0.1.2", "tcp", 40000, 80, false)
	f.Fuzz(func(t *testing.T, filter string) {
		prog, err := compile(filter)
		if err != nil {
			return
		}
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatalf("%q compiles to a program that does not assemble: %v", filter, err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%q compiles to a program the interpreter refuses: %v", filter, err)
		}
		if _, err := vm.Run(pkt); err != nil {
			t.Fatalf("%q: run: %v", filter, err)
		}
	})
}
