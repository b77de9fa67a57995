package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	r := NewReport()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<16), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		var e Event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			// Build errors and other text that is not an event: pass it on as it is.
			fmt.Fprintln(out, in.Text())
			_ = out.Flush()
			continue
		}
		r.Add(e)
		if e.Action == "output" {
			fmt.Fprint(out, e.Output)
			_ = out.Flush()
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(out, "testreport: reading go test -json: %v\n", err)
	}
	r.WriteSummary(out)
	_ = out.Flush()
	if r.Failed() || in.Err() != nil {
		os.Exit(1)
	}
}
