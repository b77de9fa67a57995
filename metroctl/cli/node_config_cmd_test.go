package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

// writeFile writes text to a new file in a test directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// callsOf returns the recorded calls that start with prefix.
func (f *fakeCluster) callsOf(prefix string) []string {
	var calls []string
	for _, c := range f.recorded() {
		if strings.HasPrefix(c, prefix) {
			calls = append(calls, c)
		}
	}
	return calls
}

func TestNodeConfigGet(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 2, &apb.NodeConfiguration{
		NtpServers: []string{"time.example.com"},
		Kubernetes: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"rack": "r1"}},
	})
	e.cluster.setClusterConfig(1, &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{Nameservers: []string{"10.0.0.53"}}})

	r := e.run("", "node", "config", "get", id)
	want := "# node " + id + ", version 2 (changed 2025-11-23T21:10:19Z by owner)\n" +
		"version: 2\n" +
		"configuration:\n" +
		"  kubernetes:\n" +
		"    labels:\n" +
		"      rack: r1\n" +
		"  ntp_servers:\n" +
		"  - time.example.com\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("get printed:\n%s\nwant:\n%s\n%v", r.stdout, want, r)
	}

	r = e.run("", "node", "config", "get", id, "-o", "json")
	var doc struct {
		Version       uint64
		Configuration map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); r.code != 0 || err != nil {
		t.Fatalf("get -o json: %v\n%v", err, r)
	}
	if doc.Version != 2 || doc.Configuration["ntp_servers"] == nil {
		t.Errorf("get -o json printed %+v, want version 2 and ntp_servers", doc)
	}

	r = e.run("", "node", "config", "get", id, "--effective")
	if r.code != 0 || !strings.Contains(r.stdout, "effective configuration") || !strings.Contains(r.stdout, "- 10.0.0.53") || !strings.Contains(r.stdout, "- time.example.com") {
		t.Errorf("--effective should show the node's NTP servers and the cluster's nameservers:\n%v", r)
	}

	fresh := e.newNode(apb.NodeState_NODE_STATE_UP, nil)
	r = e.run("", "node", "config", "get", fresh)
	if want := "# node " + fresh + ", version 0 (never changed)\nversion: 0\nconfiguration: {}\n"; r.stdout != want {
		t.Errorf("a node never configured printed %q, want %q", r.stdout, want)
	}

	if r := e.run("", "node", "config", "get", id, "-o", "table"); r.code == 0 || !strings.Contains(r.stderr, "want yaml or json") {
		t.Errorf("-o table must be refused:\n%v", r)
	}
}

func TestNodeConfigApply(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 1, &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}})
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n  nameservers: [10.0.0.53]\n")

	r := e.run("", "node", "config", "apply", id, "-f", file)
	if r.code != 0 {
		t.Fatalf("apply:\n%v", r)
	}
	for _, want := range []string{"--- node " + id + " (version 1)\n+++ " + file + "\n", "+nameservers:\n+- 10.0.0.53\n", "-- a.example.com\n+- b.example.com\n", "Configured node " + id + ": now at version 2."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply printed no %q:\n%s", want, r.stdout)
		}
	}
	req := e.cluster.lastRequest().(*apb.ConfigureNodeRequest)
	if req.ExpectedVersion != 1 || req.DryRun {
		t.Errorf("ConfigureNode got expected_version %d, dry_run %v; want the version read (1), no dry run", req.ExpectedVersion, req.DryRun)
	}
	st := e.cluster.storedNodeConfig(id)
	if want := (&apb.NodeConfiguration{NtpServers: []string{"b.example.com"}, Nameservers: []string{"10.0.0.53"}}); st.Version != 2 || !proto.Equal(st.Configuration, want) {
		t.Errorf("stored %v, want version 2 with %v", st, want)
	}

	// The same again: nothing to send.
	calls := len(e.cluster.callsOf("ConfigureNode"))
	r = e.run("", "node", "config", "apply", id, "-f", file)
	if r.code != 0 || !strings.Contains(r.stdout, "No change") || strings.Contains(r.stdout, "+++") {
		t.Errorf("applying what is stored should say no change, without a diff:\n%v", r)
	}
	if len(e.cluster.callsOf("ConfigureNode")) != calls {
		t.Error("ConfigureNode was called for no change")
	}
}

func TestNodeConfigApplyStaleVersion(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 5, &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}})
	file := writeFile(t, "node.yaml", "version: 4\nconfiguration:\n  ntp_servers: [b.example.com]\n")

	r := e.run("", "node", "config", "apply", id, "-f", file)
	for _, want := range []string{"configure node " + id + ": the change was made against version 4, but someone changed the configuration since (it is at version 5 now); nothing was changed", "metroctl node config get " + id} {
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("a stale version should say %q:\n%v", want, r)
		}
	}
	if req := e.cluster.lastRequest().(*apb.ConfigureNodeRequest); req.ExpectedVersion != 4 {
		t.Errorf("expected_version %d, want the file's (4)", req.ExpectedVersion)
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 5 {
		t.Errorf("the stored configuration moved to version %d", st.Version)
	}
}

func TestNodeConfigApplyDryRun(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n")
	r := e.run("", "node", "config", "apply", id, "-f", file, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "+- b.example.com") || !strings.Contains(r.stdout, "Dry run: the cluster accepts") || !strings.Contains(r.stdout, "Nothing was changed.") {
		t.Errorf("dry run should print the diff and say nothing changed:\n%v", r)
	}
	if req := e.cluster.lastRequest().(*apb.ConfigureNodeRequest); !req.DryRun {
		t.Error("--dry-run did not set dry_run")
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 0 || len(st.Configuration.NtpServers) != 0 {
		t.Errorf("a dry run stored %v", st)
	}

	// A dry run of no change still asks the cluster.
	empty := writeFile(t, "empty.yaml", "configuration: {}\n")
	if r := e.run("", "node", "config", "apply", id, "-f", empty, "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "is already this") {
		t.Errorf("dry run of no change:\n%v", r)
	}
	if len(e.cluster.callsOf("ConfigureNode")) != 2 {
		t.Errorf("calls %v, want a ConfigureNode per dry run", e.cluster.recorded())
	}
}

func TestNodeConfigApplyRefusesBadFiles(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	for _, tc := range []struct {
		name, doc, want string
		reachesCluster  bool
	}{
		{"unknown field", "configuration:\n  ntp_server: [a.example.com]\n", `configuration: unknown field "ntp_server"`, false},
		{"unknown top-level field", "version: 1\nconfig: {}\n", `unknown field "config"`, false},
		{"wrong shape", "configuration:\n  nameservers: 10.0.0.1\n", "configuration.nameservers: want a list", false},
		{"invalid in the cluster's eyes", "configuration:\n  ntp_servers: [\"bad host\"]\n", `configure node ` + id + `: ntp_servers[0]: "bad host" is not a host or host:port`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := len(e.cluster.callsOf("ConfigureNode"))
			file := writeFile(t, "node.yaml", tc.doc)
			r := e.run("", "node", "config", "apply", id, "-f", file)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want an error containing %q:\n%v", tc.want, r)
			}
			if called := len(e.cluster.callsOf("ConfigureNode")) > calls; called != tc.reachesCluster {
				t.Errorf("ConfigureNode called: %v, want %v", called, tc.reachesCluster)
			}
		})
	}
	if st := e.cluster.storedNodeConfig(id); st.Version != 0 {
		t.Errorf("a refused file changed the configuration: %v", st)
	}
}

func TestNodeConfigApplyFromStdin(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	r := e.run(`{"configuration": {"nameservers": ["10.0.0.53"]}}`, "node", "config", "apply", id, "-f", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "+++ standard input\n") || !slices.Equal(e.cluster.storedNodeConfig(id).Configuration.Nameservers, []string{"10.0.0.53"}) {
		t.Errorf("apply -f - of JSON:\n%v", r)
	}
}

func TestNodeConfigApplyKeepsFieldsItDoesNotKnow(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	newer := &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}}
	// Field 99, a string: what a newer cluster might store and this metroctl cannot show.
	newer.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "x"))
	e.cluster.setNodeConfig(id, 1, newer)
	file := writeFile(t, "node.yaml", "configuration:\n  ntp_servers: [b.example.com]\n")
	r := e.run("", "node", "config", "apply", id, "-f", file)
	if r.code == 0 || !strings.Contains(r.stderr, "holds fields this metroctl does not know") {
		t.Errorf("replacing a configuration with unknown fields must be refused:\n%v", r)
	}
	if calls := e.cluster.callsOf("ConfigureNode"); len(calls) != 0 {
		t.Errorf("ConfigureNode was called: %v", calls)
	}
}

// editorScript writes a shell script that stands in for the operator's editor.
func editorScript(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the scripted editor is a shell script")
	}
	path := writeFile(t, "editor.sh", "#!/bin/sh\n"+body+"\n")
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNodeConfigEdit(t *testing.T) {
	e := newTestEnv(t, true)
	id := e.cluster.nodeID
	e.cluster.setNodeConfig(id, 3, &apb.NodeConfiguration{NtpServers: []string{"a.example.com"}})
	runEdit := func(script string) runResult {
		return runMetroctlEnv(t, e.dir, e.cluster.port, "", map[string]string{"EDITOR": editorScript(t, script)}, "node", "config", "edit", id)
	}

	r := runEdit(`sed -i.orig 's/a\.example\.com/b.example.com/' "$1"`)
	if r.code != 0 || !strings.Contains(r.stdout, "+- b.example.com") || !strings.Contains(r.stdout, "now at version 4") {
		t.Fatalf("edit:\n%v", r)
	}
	if req := e.cluster.lastRequest().(*apb.ConfigureNodeRequest); req.ExpectedVersion != 3 {
		t.Errorf("expected_version %d, want the version read before editing (3)", req.ExpectedVersion)
	}
	if got := e.cluster.storedNodeConfig(id).Configuration.NtpServers; !slices.Equal(got, []string{"b.example.com"}) {
		t.Errorf("stored NTP servers %v after the edit", got)
	}

	calls := len(e.cluster.callsOf("ConfigureNode"))
	if r := runEdit("true"); r.code != 0 || !strings.Contains(r.stdout, "No change") {
		t.Errorf("an unchanged file:\n%v", r)
	}
	if r := runEdit(`: > "$1"`); r.code != 0 || !strings.Contains(r.stdout, "The file is empty; nothing was changed.") {
		t.Errorf("an emptied file:\n%v", r)
	}
	if len(e.cluster.callsOf("ConfigureNode")) != calls {
		t.Error("ConfigureNode was called without a change")
	}
	if r := runEdit("exit 3"); r.code == 0 || !strings.Contains(r.stderr, "exit status 3; nothing was changed") {
		t.Errorf("a failing editor:\n%v", r)
	}

	// A broken edit is kept for the operator to fix.
	r = runEdit(`echo "  ntp_serverz: []" >> "$1"`)
	if r.code == 0 || !strings.Contains(r.stderr, `configuration: unknown field "ntp_serverz"`) || !strings.Contains(r.stderr, "The edited configuration is kept in ") {
		t.Fatalf("a broken edit:\n%v", r)
	}
	_, kept, _ := strings.Cut(r.stderr, "kept in ")
	kept, _, _ = strings.Cut(kept, ";")
	if data, err := os.ReadFile(kept); err != nil || !strings.Contains(string(data), "ntp_serverz") {
		t.Errorf("the kept file %q: %v", kept, err)
	}
	os.Remove(kept)

	// An edit whose version is stale is kept too, but not offered for apply.
	r = runEdit(`sed -i.orig -e 's/^version: 4/version: 2/' -e 's/b\.example\.com/c.example.com/' "$1"`)
	if r.code == 0 || !strings.Contains(r.stderr, "made against version 2") || !strings.Contains(r.stderr, "metroctl node config edit "+id) ||
		!strings.Contains(r.stderr, "The edited configuration is kept in ") || strings.Contains(r.stderr, "to apply it") {
		t.Errorf("a stale edit:\n%v", r)
	}
	_, kept, _ = strings.Cut(r.stderr, "kept in ")
	os.Remove(strings.TrimSpace(kept))
}
