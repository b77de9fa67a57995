// Package logtree_bench measures how fast the node can log: leveled entries
// per second into a logtree.LogTree that has a streaming reader attached (as
// when an operator follows logs), and allocations per entry. It holds only
// benchmarks; run them with
//
//	go test -run x -bench . -benchmem ./bench/logtree/
//
// It exists so that changes to logtree's hot path (locking, eviction, stream
// delivery) can be compared before and after.
package logtree_bench
