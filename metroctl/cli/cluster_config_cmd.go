package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	apb "metropolis.dev/metropolis/api/v1"
)

// allowAttestationOffHelp says what --allow-attestation-off risks.
const allowAttestationOffHelp = "Turning attestation off (attestation.required from true to false) needs\n" +
	"--allow-attestation-off: the cluster then admits machines and software it does not know,\n" +
	"as it no longer checks their TPM's measurements against the releases it trusts."

func (s *session) clusterConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change the cluster's configuration (node defaults, attestation)",
		Long: "The cluster's configuration (apb.ClusterConfiguration) holds the node defaults, which\n" +
			"every node inherits where its own configuration (`metroctl node config`) is silent:\n" +
			"NTP and DNS servers and rules giving Kubernetes labels and taints to the Nodes of\n" +
			"matching nodes; and whether the cluster requires TPM attestation of its nodes.\n\n" +
			"A change sends only the fields that differ from what is stored (node_defaults.ntp_servers,\n" +
			"node_defaults.nameservers, node_defaults.kubernetes_rules, attestation.required), so\n" +
			"the rest keeps its value.\n\n" + allowAttestationOffHelp,
	}
	kind := func(allowAttestationOff *bool) configKind {
		return configKind{
			group: "cluster",
			args:  cobra.NoArgs,
			subject: func([]string) (configSubject, error) {
				return clusterConfig{allowAttestationOff: *allowAttestationOff}, nil
			},
		}
	}
	var never, applyAllow, editAllow bool
	apply := s.configApplyCommand(kind(&applyAllow))
	edit := s.configEditCommand(kind(&editAllow))
	for _, c := range []struct {
		cmd   *cobra.Command
		allow *bool
	}{{apply, &applyAllow}, {edit, &editAllow}} {
		c.cmd.Long += "\n\n" + allowAttestationOffHelp
		c.cmd.Flags().BoolVar(c.allow, "allow-attestation-off", false, "allow turning attestation off, which admits machines and software the cluster does not know")
	}
	cmd.AddCommand(s.configGetCommand(kind(&never)), apply, edit)
	return cmd
}

// clusterConfig is the cluster's configuration. A change replaces the fields that differ
// (changedConfigPaths).
type clusterConfig struct {
	allowAttestationOff bool
}

func (clusterConfig) noun() string { return "the cluster" }

func (clusterConfig) command(verb string) string { return "metroctl cluster config " + verb }

func (clusterConfig) newConfiguration() proto.Message { return &apb.ClusterConfiguration{} }

func (clusterConfig) read(ctx context.Context, mgmt apb.ManagementClient) (*storedConfig, error) {
	res, err := mgmt.GetClusterConfiguration(ctx, &apb.GetClusterConfigurationRequest{})
	if err != nil {
		return nil, err
	}
	st := res.GetStored()
	c := &storedConfig{
		version:       st.GetVersion(),
		configuration: st.GetConfiguration(),
		changed:       changedTime(st.GetChanged()),
		changedBy:     st.GetChangedBy(),
	}
	if st.GetConfiguration() == nil {
		c.configuration = &apb.ClusterConfiguration{}
	}
	return c, nil
}

// errAttestationOff refuses to turn attestation off without --allow-attestation-off.
var errAttestationOff = errors.New("this turns attestation off, which admits machines and software the cluster does not know; pass --allow-attestation-off to do it")

func (c clusterConfig) check(cur, next proto.Message) error {
	was := cur.(*apb.ClusterConfiguration).GetAttestation().GetRequired()
	is := next.(*apb.ClusterConfiguration).GetAttestation().GetRequired()
	if was && !is && !c.allowAttestationOff {
		return errAttestationOff
	}
	return nil
}

func (clusterConfig) same(cur, next proto.Message) bool {
	return len(changedConfigPaths(cur.ProtoReflect(), next.ProtoReflect())) == 0
}

func (c clusterConfig) write(ctx context.Context, mgmt apb.ManagementClient, cur, next proto.Message, expected uint64, dryRun bool) (*written, error) {
	paths := changedConfigPaths(cur.ProtoReflect(), next.ProtoReflect())
	if len(paths) == 0 {
		// A dry run of no change: the cluster wants at least one path, and all of them,
		// holding what is stored, check everything.
		paths = configPaths(next.ProtoReflect().Descriptor())
	}
	res, err := mgmt.ConfigureCluster(ctx, &apb.ConfigureClusterRequest{
		Configuration:       next.(*apb.ClusterConfiguration),
		UpdateMask:          &fieldmaskpb.FieldMask{Paths: paths},
		ExpectedVersion:     expected,
		DryRun:              dryRun,
		AllowAttestationOff: c.allowAttestationOff,
	})
	if err != nil {
		return nil, err
	}
	return &written{version: res.GetStored().GetVersion(), changed: res.GetChanged()}, nil
}

// configPaths are the field mask paths of a configuration of type md, in field order: each
// field of a top-level message field ("node_defaults.ntp_servers", "attestation.required"),
// and each other top-level field by itself.
func configPaths(md protoreflect.MessageDescriptor) []string {
	var paths []string
	forConfigPaths(md, func(path string, _, _ protoreflect.FieldDescriptor) {
		paths = append(paths, path)
	})
	return paths
}

// changedConfigPaths are those of configPaths whose values differ between a and b.
func changedConfigPaths(a, b protoreflect.Message) []string {
	var paths []string
	forConfigPaths(a.Descriptor(), func(path string, top, sub protoreflect.FieldDescriptor) {
		if sub == nil {
			if !fieldEqual(a, b, top) {
				paths = append(paths, path)
			}
			return
		}
		if !fieldEqual(a.Get(top).Message(), b.Get(top).Message(), sub) {
			paths = append(paths, path)
		}
	})
	return paths
}

// forConfigPaths calls fn with each of md's configPaths, its top-level field, and the field
// in that (nil for a top-level field that is its own path).
func forConfigPaths(md protoreflect.MessageDescriptor, fn func(path string, top, sub protoreflect.FieldDescriptor)) {
	fields := md.Fields()
	for i := range fields.Len() {
		top := fields.Get(i)
		if top.Message() == nil || top.IsList() || top.IsMap() {
			fn(string(top.Name()), top, nil)
			continue
		}
		subs := top.Message().Fields()
		for j := range subs.Len() {
			fn(string(top.Name())+"."+string(subs.Get(j).Name()), top, subs.Get(j))
		}
	}
}

// fieldEqual reports whether field fd has the same value in a and b, by comparing messages
// holding only it.
func fieldEqual(a, b protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	x, y := a.New(), a.New()
	if a.Has(fd) {
		x.Set(fd, a.Get(fd))
	}
	if b.Has(fd) {
		y.Set(fd, b.Get(fd))
	}
	return proto.Equal(x.Interface(), y.Interface())
}
