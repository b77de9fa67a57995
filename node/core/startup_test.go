package core

import (
	"errors"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestDecideEnrolment(t *testing.T) {
	bootstrap := &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterBootstrap{ClusterBootstrap: &apb.ClusterBootstrap{}}}
	register := &apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterRegister{ClusterRegister: &apb.ClusterRegister{}}}
	for _, tc := range []struct {
		name    string
		facts   enrolFacts
		want    enrolment
		wantErr error
	}{
		{"a member ignores its parameters", enrolFacts{member: true, params: bootstrap}, enrolMember, nil},
		{"a member without parameters or cluster half", enrolFacts{member: true}, enrolMember, nil},
		{"first start with bootstrap parameters", enrolFacts{params: bootstrap, clusterHalf: true}, enrolBootstrap, nil},
		{"first start with register parameters", enrolFacts{params: register, clusterHalf: true}, enrolRegister, nil},
		{"no membership and no parameters", enrolFacts{clusterHalf: true}, 0, errNoClusterNoParameters},
		{"no membership, parameters, but the cluster half is gone", enrolFacts{params: register}, 0, errNoClusterHalf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decideEnrolment(tc.facts)
			if !errors.Is(err, tc.wantErr) || (err == nil && got != tc.want) {
				t.Fatalf("decideEnrolment = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := decideEnrolment(enrolFacts{params: &apb.NodeParameters{}, clusterHalf: true}); err == nil {
		t.Error("parameters naming no cluster were accepted")
	}
}

func TestDecideStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts startFacts
		want  startPlan
	}{
		{"the first node: its own etcd and curator, nothing to join", startFacts{bootstrapping: true}, startPlan{rolesFirst: true}},
		{"a consensus member restarting: its curator may be the one it joins through", startFacts{consensusData: true}, startPlan{rolesFirst: true, join: true}},
		{"a consensus member that joined to unlock its storage", startFacts{consensusData: true, joined: true}, startPlan{rolesFirst: true}},
		{"any other node joins, then runs its roles", startFacts{}, startPlan{join: true}},
		{"a node the cluster accepted while unlocking", startFacts{joined: true}, startPlan{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideStart(tc.facts); got != tc.want {
				t.Fatalf("decideStart = %+v, want %+v", got, tc.want)
			}
		})
	}
}
