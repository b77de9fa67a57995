package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/identity"
)

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) runResult { return runMetroctl(t, dir, 0, "", args...) }

	r := run("config", "create-context", "lab", "--endpoint", "10.0.0.1")
	if r.code != 0 || !strings.Contains(r.stdout, "BEGIN PUBLIC KEY") || !strings.Contains(r.stdout, `"lab" is now the current context`) {
		t.Fatalf("create-context lab:\n%v", r)
	}
	keyFile := filepath.Join(t.TempDir(), "owner.pem")
	_, key, _ := identity.GenerateKey()
	keyPEM, _ := identity.MarshalPrivateKeyPEM(key)
	os.WriteFile(keyFile, keyPEM, 0o600)
	if r := run("config", "create-context", "prod", "--owner-key", keyFile); r.code != 0 || strings.Contains(r.stdout, "now the current") {
		t.Fatalf("create-context prod must not change the current context:\n%v", r)
	}
	if c, err := config.NewStore(dir).LoadContext("prod"); err != nil || !c.OwnerKey.Equal(key) {
		t.Errorf("prod does not hold the given key: %v", err)
	}

	r = run("config", "get-contexts")
	if r.code != 0 || !strings.Contains(r.stdout, "*        lab   10.0.0.1:7835") || !strings.Contains(r.stdout, "         prod  -") {
		t.Errorf("get-contexts:\n%v", r)
	}
	if r := run("config", "use-context", "prod"); r.code != 0 {
		t.Fatalf("use-context:\n%v", r)
	}
	if r := run("config", "current-context"); r.stdout != "prod\n" {
		t.Errorf("current-context after use-context prod:\n%v", r)
	}
	if r := run("config", "use-context", "staging"); r.code == 0 || !strings.Contains(r.stderr, `context "staging" does not exist (known: lab, prod)`) {
		t.Errorf("use-context of an unknown context:\n%v", r)
	}
	if r := run("config", "set-endpoints", "prod", "10.0.0.9:1"); r.code != 0 {
		t.Fatalf("set-endpoints:\n%v", r)
	}
	r = run("config", "get-contexts", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"endpoints": [`+"\n"+`      "10.0.0.9:1"`) {
		t.Errorf("get-contexts -o json:\n%v", r)
	}
	if r := run("config", "delete-context", "prod"); r.code != 0 {
		t.Fatalf("delete-context:\n%v", r)
	}
	if r := run("config", "current-context"); r.code == 0 || !strings.Contains(r.stderr, "no current context") {
		t.Errorf("current-context after deleting the current one:\n%v", r)
	}
	if r := run("--context", "prod", "node", "list"); r.code == 0 || !strings.Contains(r.stderr, `context "prod" does not exist`) {
		t.Errorf("--context of a deleted context:\n%v", r)
	}
}

func TestConfigDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	app := NewApp()
	var out strings.Builder
	app.Stdout, app.Stderr = &out, &out
	app.Getenv = func(k string) string {
		if k == "METROCTL_CONFIG_DIR" {
			return dir
		}
		return ""
	}
	if code := app.Run(t.Context(), []string{"config", "create-context", "envctx"}); code != 0 {
		t.Fatalf("create-context: %s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "contexts", "envctx")); err != nil {
		t.Errorf("the context was not created in $METROCTL_CONFIG_DIR: %v", err)
	}
}

func TestCompletion(t *testing.T) {
	e := newTestEnv(t, true)
	newID := e.newNode(apb.NodeState_NODE_STATE_NEW, nil)
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{"--context completes context names", []string{"__complete", "--context", ""}, []string{"test"}, nil},
		{"use-context completes context names", []string{"__complete", "config", "use-context", ""}, []string{"test"}, nil},
		{"describe completes every node with its state", []string{"__complete", "node", "describe", ""}, []string{e.cluster.nodeID + "\tUP", newID + "\tNEW"}, nil},
		{"approve completes only NEW nodes", []string{"__complete", "node", "approve", ""}, []string{newID}, []string{e.cluster.nodeID}},
		{"add-role completes roles after the node", []string{"__complete", "node", "add-role", newID, ""}, []string{"ConsensusMember", "worker"}, nil},
		{"-o completes formats", []string{"__complete", "node", "list", "-o", ""}, []string{"table", "json", "yaml"}, nil},
		{"the completion command exists", []string{"completion", "bash"}, []string{"bash completion"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run("", tc.args...)
			if r.code != 0 {
				t.Fatalf("failed:\n%v", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("completions lack %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.stdout, w) {
					t.Errorf("completions include %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}
