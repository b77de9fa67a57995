package curator

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNextLabels(t *testing.T) {
	cur := map[string]string{"rack": "r1", "zone": "a"}
	many := map[string]string{}
	for i := range maxLabels {
		many[fmt.Sprintf("l%d", i)] = "x"
	}
	for _, c := range []struct {
		name    string
		upsert  map[string]string
		remove  []string
		want    map[string]string
		message string // empty: valid
	}{
		{"adding and overwriting", map[string]string{"rack": "r2", "gpu": ""}, nil, map[string]string{"rack": "r2", "zone": "a", "gpu": ""}, ""},
		{"removing, also a key that is not set", nil, []string{"zone", "absent"}, map[string]string{"rack": "r1"}, ""},
		{"a prefixed key", map[string]string{"example.com/tier": "gold"}, nil, map[string]string{"rack": "r1", "zone": "a", "example.com/tier": "gold"}, ""},
		{"63-character name and value", map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 63)}, nil,
			map[string]string{"rack": "r1", "zone": "a", strings.Repeat("k", 63): strings.Repeat("v", 63)}, ""},
		{"an empty request", nil, nil, nil, "sets and removes no label"},
		{"an empty key", map[string]string{"": "x"}, nil, nil, `label key ""`},
		{"a 64-character name", map[string]string{strings.Repeat("k", 64): "x"}, nil, nil, "name"},
		{"a name ending in a dash", map[string]string{"rack-": "x"}, nil, nil, `"rack-"`},
		{"a space in a value", map[string]string{"rack": "r 1"}, nil, nil, `value "r 1"`},
		{"a 64-character value", map[string]string{"rack": strings.Repeat("v", 64)}, nil, nil, "value"},
		{"an uppercase prefix", map[string]string{"Example.com/tier": "x"}, nil, nil, "prefix"},
		{"an empty prefix", map[string]string{"/tier": "x"}, nil, nil, "empty prefix"},
		{"a malformed key to remove", nil, []string{"bad key"}, nil, `remove: label key "bad key"`},
		{"a key both set and removed", map[string]string{"rack": "r2"}, []string{"rack"}, nil, "both upserted and removed"},
		{"too many labels", many, nil, nil, "more than 128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := nextLabels("metropolis-0123456789abcdef", cur, c.upsert, c.remove)
			if c.message == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !maps.Equal(got, c.want) {
					t.Errorf("labels = %v, want %v", got, c.want)
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("nextLabels = %v, want InvalidArgument mentioning %q", err, c.message)
			}
		})
	}
	if cur["rack"] != "r1" || len(cur) != 2 {
		t.Errorf("the current labels were modified: %v", cur)
	}
}
