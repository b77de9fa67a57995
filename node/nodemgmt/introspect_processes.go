package nodemgmt

import (
	"context"
	"errors"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/procfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
)

// maxCommandLine bounds what one process's command line adds to an answer.
const maxCommandLine = 4096

// userHZ is the unit of /proc/PID/stat's times: USER_HZ, 100 on every Linux architecture.
const userHZ = 100

// procFS opens the proc filesystem introspection reads: Config.ProcRoot, or /proc.
func (s *Server) procFS() (procfs.FS, error) {
	root := s.cfg.ProcRoot
	if root == "" {
		root = procfs.DefaultMountPoint
	}
	return procfs.NewFS(root)
}

// GetProcesses lists the node's processes. One that ends while it is read is left out.
func (s *Server) GetProcesses(_ context.Context, _ *apb.GetProcessesRequest) (*apb.GetProcessesResponse, error) {
	pfs, err := s.procFS()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "open the proc filesystem: %v", err)
	}
	stat, err := pfs.Stat()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "read /proc/stat: %v", err)
	}
	procs, err := pfs.AllProcs()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "list processes: %v", err)
	}
	res := &apb.GetProcessesResponse{Time: timestamppb.Now(), Cpus: int32(len(stat.CPU))}
	for _, p := range procs {
		pr, err := readProcess(p, stat.BootTime)
		if errors.Is(err, fs.ErrNotExist) {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, status.Errorf(codes.Internal, "process %d: %v", p.PID, err)
		}
		res.Processes = append(res.Processes, pr)
	}
	return res, nil
}

// readProcess reads one process; bootTime is the kernel's boot time (Unix seconds), which
// its start time counts from.
func readProcess(p procfs.Proc, bootTime uint64) (*apb.Process, error) {
	st, err := p.Stat()
	if err != nil {
		return nil, err
	}
	pr := &apb.Process{
		Pid: int32(st.PID), ParentPid: int32(st.PPID), Name: st.Comm, State: st.State,
		CpuSeconds: st.CPUTime(), ResidentBytes: uint64(max(st.ResidentMemory(), 0)), VirtualBytes: uint64(st.VirtualMemory()),
		Threads: int32(st.NumThreads),
		Started: timestamppb.New(time.Unix(int64(bootTime), 0).Add(time.Duration(st.Starttime) * time.Second / userHZ)),
	}
	// The command line and cgroup are worth having, not worth failing over: a process may
	// end between reads, and kernel threads have neither.
	if args, err := p.CmdLine(); err == nil {
		pr.CommandLine = boundArgs(args, maxCommandLine)
	}
	if cgroups, err := p.Cgroups(); err == nil {
		for _, c := range cgroups {
			if c.HierarchyID == 0 { // the v2 unified hierarchy
				pr.Cgroup = c.Path
				pr.PodUid = podUID(c.Path)
			}
		}
	}
	return pr, nil
}

// boundArgs keeps args up to limit bytes in all, cutting the one that crosses it and marking
// the cut with "…".
func boundArgs(args []string, limit int) []string {
	var out []string
	left := limit
	for _, a := range args {
		if len(a) > left {
			return append(out, a[:left]+"…")
		}
		out = append(out, a)
		left -= len(a)
	}
	return out
}

// podCgroup finds a pod's UID in a cgroup path, as the kubelet names pod cgroups with the
// cgroupfs driver (/kubepods/burstable/pod<uid>/...) and with the systemd one
// (kubepods-burstable-pod<uid with _ for ->.slice).
var podCgroup = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(\.slice)?(/|$)`)

// podUID returns the UID of the pod whose cgroup path is path, or "".
func podUID(path string) string {
	m := podCgroup.FindStringSubmatch(path)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "_", "-")
}
