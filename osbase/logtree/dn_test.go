package logtree

import (
	"strings"
	"testing"
)

func TestDNValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dn      DN
		wantErr string // empty: valid
	}{
		{"root DN is valid", "", ""},
		{"single part", "root", ""},
		{"dotted path", "root.consensus.etcd", ""},
		{"dashes, underscores and digits", "root.k8s-worker_2", ""},
		{"empty part in the middle", "root..etcd", "part 1: name is empty"},
		{"trailing dot", "root.", "part 1: name is empty"},
		{"leading dot", ".root", "part 0: name is empty"},
		{"space", "root.my service", `character ' ' at byte 2`},
		{"slash", "root/etcd", `character '/' at byte 4`},
		{"non-ASCII", "root.café", `character 'é'`},
		{"overlong part", DN("root." + strings.Repeat("a", 129)), "at most 128 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dn.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate(%q) = %v, want valid", tc.dn, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate(%q) = %v, want error containing %q", tc.dn, err, tc.wantErr)
			}
		})
	}
}

func TestDNRelations(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     DN
		ancestor bool // a.IsAncestorOf(b)
		contains bool // a.Contains(b)
	}{
		{"parent of child", "root", "root.a", true, true},
		{"grandparent", "root", "root.a.b", true, true},
		{"itself is contained but no ancestor", "root.a", "root.a", false, true},
		{"prefix of a name is no ancestor", "root", "rootx.a", false, false},
		{"sibling", "root.a", "root.b", false, false},
		{"child is not ancestor of parent", "root.a", "root", false, false},
		{"tree root is everyone's ancestor", "", "root.a", true, true},
		{"tree root contains itself", "", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.IsAncestorOf(tc.b); got != tc.ancestor {
				t.Errorf("%q.IsAncestorOf(%q) = %v, want %v", tc.a, tc.b, got, tc.ancestor)
			}
			if got := tc.a.Contains(tc.b); got != tc.contains {
				t.Errorf("%q.Contains(%q) = %v, want %v", tc.a, tc.b, got, tc.contains)
			}
		})
	}
}

func TestDNNavigation(t *testing.T) {
	for _, tc := range []struct {
		dn         DN
		wantParent DN
		hasParent  bool
		wantName   string
	}{
		{"root.consensus.etcd", "root.consensus", true, "etcd"},
		{"root", "", true, "root"},
		{"", "", false, ""},
	} {
		parent, ok := tc.dn.Parent()
		if parent != tc.wantParent || ok != tc.hasParent {
			t.Errorf("%q.Parent() = %q, %v; want %q, %v", tc.dn, parent, ok, tc.wantParent, tc.hasParent)
		}
		if got := tc.dn.Name(); got != tc.wantName {
			t.Errorf("%q.Name() = %q, want %q", tc.dn, got, tc.wantName)
		}
	}

	child, err := DN("root.consensus").Child("etcd")
	if err != nil || child != "root.consensus.etcd" {
		t.Errorf("Child(etcd) = %q, %v; want root.consensus.etcd", child, err)
	}
	if child, err := DN("").Child("root"); err != nil || child != "root" {
		t.Errorf("tree root Child(root) = %q, %v; want root", child, err)
	}
	if _, err := DN("root").Child("a.b"); err == nil {
		t.Error("Child(a.b) succeeded, want an error: a name must not contain dots")
	}
}

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Severity
		ok   bool
	}{
		{"INFO", INFO, true},
		{"W", WARNING, true},
		{"ERROR", ERROR, true},
		{"F", FATAL, true},
		{"info", 0, false},
		{"", 0, false},
	} {
		got, err := ParseSeverity(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
