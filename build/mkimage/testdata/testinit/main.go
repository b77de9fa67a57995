// Command testinit stands in for stage 1 and the node program in mkimage's tests: a small
// static binary that says hello.
package main

import "fmt"

func main() { fmt.Println("metropolis mkimage test binary") }
