package event

import "testing"

func TestResolvedOptionsAccept(t *testing.T) {
	even := Filter(func(i int) bool { return i%2 == 0 })
	positive := Filter(func(i int) bool { return i > 0 })
	cases := []struct {
		name  string
		opts  []GetOption[int]
		value int
		want  bool
	}{
		{"no options accept everything", nil, -3, true},
		{"a single filter accepts what it accepts", []GetOption[int]{even}, 4, true},
		{"a single filter rejects what it rejects", []GetOption[int]{even}, 3, false},
		{"all filters accepting accepts", []GetOption[int]{even, positive}, 2, true},
		{"one filter rejecting rejects", []GetOption[int]{even, positive}, -2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ResolveGetOptions(c.opts).Accepts(c.value); got != c.want {
				t.Errorf("Accepts(%d) = %v, want %v", c.value, got, c.want)
			}
		})
	}
}
