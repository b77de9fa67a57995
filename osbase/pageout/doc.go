// Package pageout gives back the memory that running programs hold only for code they ran once.
//
// A Go program maps its whole executable, and at start every package's initialiser runs: the
// code and tables of hundreds of packages are faulted in (with the kernel's fault-around, 64 KiB
// at a time), and most are never touched again. For the kubelet (in a multicall binary of all
// of Kubernetes) and the node program that is 90-100 MiB each of resident file pages, three
// times what their heaps take. The kernel would drop those pages under memory pressure, but
// until then they count as the node's own memory and crowd the page cache workloads want.
//
// Executable asks the kernel (process_madvise, MADV_PAGEOUT) to reclaim the pages of a
// process's read-only executable mappings now. Pages the program still uses come back on the
// next access, from the page cache or the verified system partition, so what stays resident
// is the program's working set. Writable mappings (data, heap) are never touched: without swap
// they could not be reclaimed anyway. Pages another process also maps are left by the kernel;
// Forget lets a process that shares its executable with another drop its own mappings first.
//
// Who uses it: the Kubernetes worker, for its own processes (node/kubernetes/worker); the
// image's init process, which runs the same binary as the node program (node/platform/image);
// and every long-running Kubernetes component of the kube multicall binary (cmd/kube).
package pageout
