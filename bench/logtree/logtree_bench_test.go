package logtree_bench

import (
	"io"
	"sync"
	"testing"

	"metropolis.dev/metropolis/osbase/logtree"
)

// follow attaches a streaming reader to the whole tree and drains it in the
// background, like an operator tailing the node's logs. It returns a
// function that detaches it and reports the entries it missed.
func follow(b *testing.B, lt *logtree.LogTree) func() {
	b.Helper()
	r, err := lt.Read("", logtree.WithChildren(), logtree.WithStream())
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range r.Stream {
		}
	}()
	return func() {
		r.Close()
		wg.Wait()
		b.ReportMetric(float64(r.Missed())/float64(b.N), "missed/op")
	}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkLeveledWithStream is the headline figure: one goroutine logging
// formatted leveled entries while a reader follows the stream.
func BenchmarkLeveledWithStream(b *testing.B) {
	lt := logtree.New()
	l := lt.MustLeveledFor("root.consensus.etcd")
	stop := follow(b, lt)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Infof("applied raft entry %d", i)
	}
	b.StopTimer()
	reportRate(b)
	stop()
}

// BenchmarkLeveledNoReader is the same without a reader, to show what
// stream delivery costs.
func BenchmarkLeveledNoReader(b *testing.B) {
	lt := logtree.New()
	l := lt.MustLeveledFor("root.consensus.etcd")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Infof("applied raft entry %d", i)
	}
	b.StopTimer()
	reportRate(b)
}

// BenchmarkLeveledParallelWithStream logs from many goroutines into
// different DNs, contending on the tree's lock.
func BenchmarkLeveledParallelWithStream(b *testing.B) {
	lt := logtree.New()
	stop := follow(b, lt)
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		dn := logtree.DN("root.svc" + string(rune('a'+next%26)))
		next++
		mu.Unlock()
		l := lt.MustLeveledFor(dn)
		i := 0
		for pb.Next() {
			l.Infof("request %d done", i)
			i++
		}
	})
	b.StopTimer()
	reportRate(b)
	stop()
}

// BenchmarkRawLinesWithStream writes process output, one line per write.
func BenchmarkRawLinesWithStream(b *testing.B) {
	lt := logtree.New()
	w, err := lt.RawFor("root.kubernetes.kubelet")
	if err != nil {
		b.Fatal(err)
	}
	line := []byte("I0102 15:04:05.000000    1234 kubelet.go:12] synced pod default/nginx\n")
	stop := follow(b, lt)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Write(line)
	}
	b.StopTimer()
	reportRate(b)
	stop()
	var _ io.Writer = w
}

// BenchmarkVDisabled is the cost of a V() call that logs nothing, which code
// leaves in hot paths.
func BenchmarkVDisabled(b *testing.B) {
	l := logtree.New().MustLeveledFor("root")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.V(3).Infof("detail %d", i)
	}
}
