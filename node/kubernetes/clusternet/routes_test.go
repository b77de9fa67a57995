package clusternet

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestDesiredRoutes(t *testing.T) {
	peers := []Peer{
		{Node: "a", PodCIDR: netip.MustParsePrefix("10.112.1.0/24"), NodeIP: netip.MustParseAddr("192.168.1.11")},
		{Node: "b", PodCIDR: netip.MustParsePrefix("10.112.2.0/24"), NodeIP: netip.MustParseAddr("192.168.1.12")},
	}
	src := netip.MustParseAddr("10.112.0.1")
	for _, tc := range []struct {
		name   string
		tunnel bool
		want   []route
	}{
		{"plain", false, []route{
			{Dst: peers[0].PodCIDR, Via: peers[0].NodeIP},
			{Dst: peers[1].PodCIDR, Via: peers[1].NodeIP},
		}},
		{"tunnel", true, []route{
			{Dst: peers[0].PodCIDR, Tunnel: true, Src: src},
			{Dst: peers[1].PodCIDR, Tunnel: true, Src: src},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := desiredRoutes(peers, tc.tunnel, src); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("desiredRoutes = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiffRoutes(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	r1 := route{Dst: p("10.112.1.0/24"), Via: a("192.168.1.11")}
	r1moved := route{Dst: p("10.112.1.0/24"), Via: a("192.168.1.99")}
	r2 := route{Dst: p("10.112.2.0/24"), Via: a("192.168.1.12")}
	r2tunnel := route{Dst: p("10.112.2.0/24"), Tunnel: true, Src: a("10.112.0.1")}
	r3 := route{Dst: p("10.112.3.0/24"), Via: a("192.168.1.13")}
	for _, tc := range []struct {
		name                    string
		current, desired        []route
		wantReplace, wantRemove []route
	}{
		{name: "nothing"},
		{name: "all new", desired: []route{r1, r2}, wantReplace: []route{r1, r2}},
		{name: "in place", current: []route{r2, r1}, desired: []route{r1, r2}},
		{name: "node gone", current: []route{r3, r1, r2}, desired: []route{r1}, wantRemove: []route{r2, r3}},
		{name: "node moved", current: []route{r1, r2}, desired: []route{r1moved, r2}, wantReplace: []route{r1moved}},
		{name: "plain to tunnel", current: []route{r2}, desired: []route{r2tunnel}, wantReplace: []route{r2tunnel}},
		{name: "subnet changed", current: []route{r1}, desired: []route{r3}, wantReplace: []route{r3}, wantRemove: []route{r1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replace, remove := diffRoutes(tc.current, tc.desired)
			if !reflect.DeepEqual(replace, tc.wantReplace) || !reflect.DeepEqual(remove, tc.wantRemove) {
				t.Errorf("diffRoutes = replace %v, remove %v; want replace %v, remove %v", replace, remove, tc.wantReplace, tc.wantRemove)
			}
		})
	}
}
