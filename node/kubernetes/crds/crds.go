// Package crds holds the CustomResourceDefinitions of the APIs the node
// implements itself, which every Kubernetes controller installs: today
// ClusterNetworkPolicy (policy.networking.k8s.io), enforced by
// node/kubernetes/netpol.
//
// The definitions are the upstream projects' own, copied byte for byte from
// the module go.mod pins, so the API a user writes against is exactly the
// upstream one; TestCopiesMatchTheModules keeps the copies in step with the
// pinned versions. They are embedded rather than read at run time because
// the node image holds no Go module cache.
package crds

import (
	_ "embed"
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// CRD is one CustomResourceDefinition as the API server takes it.
type CRD struct {
	// Name is the definition's metadata.name, "<plural>.<group>".
	Name string
	// JSON is the definition.
	JSON []byte
	// Version is the upstream bundle version the definition carries in
	// VersionAnnotation, and Channel its release channel (standard or
	// experimental) in ChannelAnnotation.
	Version, Channel string
}

// Annotations through which ClusterNetworkPolicy's definition says which
// release and channel it comes from.
const (
	VersionAnnotation = "policy.networking.k8s.io/bundle-version"
	ChannelAnnotation = "policy.networking.k8s.io/channel"
)

//go:embed clusternetworkpolicies.yaml
var clusterNetworkPoliciesYAML []byte

// All are the definitions a controller installs.
func All() ([]CRD, error) {
	crd, err := parse(clusterNetworkPoliciesYAML)
	if err != nil {
		return nil, fmt.Errorf("ClusterNetworkPolicy definition: %w", err)
	}
	return []CRD{crd}, nil
}

func parse(raw []byte) (CRD, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return CRD{}, err
	}
	var meta struct {
		Metadata struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(js, &meta); err != nil {
		return CRD{}, err
	}
	return CRD{Name: meta.Metadata.Name, JSON: js, Version: meta.Metadata.Annotations[VersionAnnotation], Channel: meta.Metadata.Annotations[ChannelAnnotation]}, nil
}

// Action is what a controller does about one definition.
type Action int

const (
	// Keep leaves the installed definition alone.
	Keep Action = iota
	// Create installs ours: there is none.
	Create
	// Replace puts ours in place of an older release's of the same channel.
	Replace
)

// Decide says what to do about ours, given the installed definition's
// version and channel (installed false: there is none). A newer definition
// (a controller of a later Metropolis release made it), one of another
// channel (an operator chose the experimental one) or one whose version
// cannot be read (not ours to judge) is kept; reason says why when it is
// not the same as ours.
func Decide(ours CRD, installed bool, installedVersion, channel string) (action Action, reason string) {
	if !installed {
		return Create, ""
	}
	if channel != ours.Channel {
		return Keep, fmt.Sprintf("the installed definition is of the %.32q channel, not %q: left as it is", channel, ours.Channel)
	}
	theirs, err := version.ParseSemantic(installedVersion)
	if err != nil {
		return Keep, fmt.Sprintf("the installed definition's version %.32q cannot be read (%v): left as it is", installedVersion, err)
	}
	mine, err := version.ParseSemantic(ours.Version)
	if err != nil {
		return Keep, fmt.Sprintf("our definition's version %.32q cannot be read (%v)", ours.Version, err)
	}
	switch c := mine.AtLeast(theirs); {
	case c && !theirs.AtLeast(mine):
		return Replace, ""
	case !c:
		return Keep, fmt.Sprintf("the installed definition (%s) is newer than ours (%s): left as it is", installedVersion, ours.Version)
	}
	return Keep, ""
}
