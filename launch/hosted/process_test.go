package hosted

import (
	"slices"
	"testing"
)

func TestNodeEnvironment(t *testing.T) {
	t.Setenv(kubeBinaryEnv, "/from/the/launcher")
	for _, tc := range []struct {
		name, kube, want string
	}{
		{"no kube binary asked for: the launcher's variable is dropped", "", ""},
		{"kube binary asked for", "/opt/kube", kubeBinaryEnv + "=/opt/kube"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := nodeEnvironment(tc.kube)
			var got []string
			for _, kv := range env {
				if len(kv) > len(kubeBinaryEnv) && kv[:len(kubeBinaryEnv)+1] == kubeBinaryEnv+"=" {
					got = append(got, kv)
				}
			}
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s in the node environment: %q, want %q", kubeBinaryEnv, got, want)
			}
		})
	}
}
