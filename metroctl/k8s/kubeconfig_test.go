package k8s

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

type kubeconfigFile struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server        string `json:"server"`
			CA            []byte `json:"certificate-authority-data"`
			TLSServerName string `json:"tls-server-name"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Exec struct {
				APIVersion string   `json:"apiVersion"`
				Command    string   `json:"command"`
				Args       []string `json:"args"`
			} `json:"exec"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name string `json:"name"`
	} `json:"contexts"`
}

func readKubeconfig(t *testing.T, path string) kubeconfigFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeconfigFile
	if err := yaml.Unmarshal(data, &kc); err != nil {
		t.Fatalf("kubeconfig does not parse: %v\n%s", err, data)
	}
	return kc
}

func TestMerge(t *testing.T) {
	other := "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: https://other}\n" +
		"users:\n- name: other\n  user: {token: x}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\ncurrent-context: other\n"
	entry := Entry{Name: "metropolis-a", Server: "https://10.0.0.1:6443", CAPEM: []byte("CA"),
		Command: "/bin/metroctl", Args: []string{"k8s", "credential", "--context", "a"}}
	for _, tc := range []struct {
		name       string
		existing   string // "" means no file
		entries    []Entry
		wantServer string
		wantCount  int
	}{
		{"new file", "", []Entry{entry}, "https://10.0.0.1:6443", 1},
		{"keeps other entries", other, []Entry{entry}, "https://10.0.0.1:6443", 2},
		{"replaces its own entry", other, []Entry{entry, {Name: entry.Name, Server: "https://127.0.0.1:7000", TLSServerName: "kubernetes", CAPEM: []byte("CA"), Command: "/bin/metroctl"}}, "https://127.0.0.1:7000", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "config")
			if tc.existing != "" {
				os.MkdirAll(filepath.Dir(path), 0o700)
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, e := range tc.entries {
				if err := Merge(path, e); err != nil {
					t.Fatal(err)
				}
			}
			kc := readKubeconfig(t, path)
			if kc.CurrentContext != entry.Name {
				t.Errorf("current-context %q, want %q", kc.CurrentContext, entry.Name)
			}
			if len(kc.Clusters) != tc.wantCount || len(kc.Users) != tc.wantCount || len(kc.Contexts) != tc.wantCount {
				t.Errorf("%d clusters, %d users, %d contexts; want %d of each", len(kc.Clusters), len(kc.Users), len(kc.Contexts), tc.wantCount)
			}
			for _, c := range kc.Clusters {
				if c.Name == entry.Name && (c.Cluster.Server != tc.wantServer || string(c.Cluster.CA) != "CA") {
					t.Errorf("cluster %s: server %q CA %q, want %q and CA", c.Name, c.Cluster.Server, c.Cluster.CA, tc.wantServer)
				}
			}
			for _, u := range kc.Users {
				if u.Name == entry.Name && (u.User.Exec.Command != "/bin/metroctl" || u.User.Exec.APIVersion != "client.authentication.k8s.io/v1") {
					t.Errorf("user %s: exec %+v", u.Name, u.User.Exec)
				}
			}
		})
	}
}

func TestMergeRefusesDamagedKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte("clusters: {not: a list}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Merge(path, Entry{Name: "metropolis-a"}); err == nil {
		t.Error("merged into a kubeconfig whose clusters are not a list")
	}
}

func TestDefaultPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"KUBECONFIG list", map[string]string{"KUBECONFIG": "/a/one:/b/two", "HOME": "/h"}, "/a/one"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.kube/config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DefaultPath(func(k string) string { return tc.env[k] })
			if err != nil || got != tc.want {
				t.Errorf("DefaultPath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := DefaultPath(func(string) string { return "" }); err == nil {
		t.Error("no error without KUBECONFIG and HOME")
	}
}
