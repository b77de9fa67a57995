package cli

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// stateText is a node state without the API's prefix: "UP".
func stateText(s apb.NodeState) string {
	return strings.TrimPrefix(s.String(), "NODE_STATE_")
}

// healthText is a node's health without the API's prefix: "HEALTHY".
func healthText(h apb.NodeHealth) string {
	if h == apb.NodeHealth_NODE_HEALTH_UNSPECIFIED {
		return "-"
	}
	return strings.TrimPrefix(h.String(), "NODE_HEALTH_")
}

// heldRoles lists the roles r holds.
func heldRoles(r *apb.NodeRoles) []role {
	var out []role
	if r.GetConsensusMember() {
		out = append(out, roleConsensusMember)
	}
	if r.GetKubernetesController() {
		out = append(out, roleKubernetesController)
	}
	if r.GetKubernetesWorker() {
		out = append(out, roleKubernetesWorker)
	}
	return out
}

// rolesText joins role names with sep, or says "-" for none.
func rolesText(r *apb.NodeRoles, sep string) string {
	roles := heldRoles(r)
	if len(roles) == 0 {
		return "-"
	}
	names := make([]string, len(roles))
	for i, x := range roles {
		names[i] = x.String()
	}
	return strings.Join(names, sep)
}

// addressText is where a node says it can be reached, or "-".
func addressText(n *apb.Node) string {
	if a := n.GetStatus().GetExternalAddress(); a != "" {
		return a
	}
	return "-"
}

// heartbeatText is how long ago the node's last heartbeat came, in whole seconds, or "-".
func heartbeatText(n *apb.Node) string {
	if n.TimeSinceHeartbeat == nil {
		return "-"
	}
	return n.TimeSinceHeartbeat.AsDuration().Round(time.Second).String() + " ago"
}

// labelsText is "k=v" pairs sorted by key, joined by sep, or "-".
func labelsText(labels map[string]string, sep string) string {
	if len(labels) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + labels[k]
	}
	return strings.Join(pairs, sep)
}

// sortNodes orders nodes by ID, so that listings do not depend on the server's order.
func sortNodes(nodes []*apb.Node) {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Id < nodes[j].Id })
}

// writeNodeTable writes one aligned line per node.
func writeNodeTable(w io.Writer, nodes []*apb.Node) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tADDRESS\tHEALTH\tHEARTBEAT\tROLES\tVERSION\tOTHER SLOT")
	for _, n := range nodes {
		sw := n.GetStatus().GetSoftware()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Id, stateText(n.State), addressText(n), healthText(n.Health), heartbeatText(n), rolesText(n.Roles, ","),
			versionText(sw), otherSlotText(sw))
	}
	return tw.Flush()
}

// writeNodeDescription writes every field of one node as aligned "Name: value" lines. stored
// is the node's stored configuration, for its trial: nil if not known, with readErr saying
// why if it could not be read.
func writeNodeDescription(w io.Writer, n *apb.Node, stored *apb.StoredNodeConfiguration, readErr error) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	curator := "-"
	if c := n.GetStatus().GetRunningCurator(); c != nil {
		curator = fmt.Sprintf("running, port %d", c.Port)
	}
	reported := "never"
	if ts := n.GetStatus().GetTimestamp(); ts != nil {
		reported = ts.AsTime().UTC().Format(time.RFC3339)
	}
	rows := [][2]string{
		{"ID", n.Id},
		{"Public key", hex.EncodeToString(n.PublicKey)},
		{"State", stateText(n.State)},
		{"Health", healthText(n.Health)},
		{"Last heartbeat", heartbeatText(n)},
		{"Roles", rolesText(n.Roles, ", ")},
		{"Address", addressText(n)},
		{"Curator", curator},
		{"Status reported", reported},
		{"Labels", labelsText(n.Labels, "\n\t")},
		{"Version", versionText(n.GetStatus().GetSoftware())},
		{"Slots", slotsText(n.GetStatus().GetSoftware(), "\n\t")},
		{"Time", timeSyncText(n.GetStatus().GetTimeSync(), "\n\t")},
		{"TPM", attestationText(n.GetAttestation(), "\n\t")},
		{"Configuration", configurationText(n, "\n\t")},
	}
	cs := n.GetStatus().GetConfiguration()
	if t := trialText(stored, readErr, cs); t != "" {
		rows = append(rows, [2]string{"Trial", t})
	}
	if r := revertedText(cs); r != "" {
		rows = append(rows, [2]string{"Reverted", r})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// configurationText is the node's stored configuration version and what the node reports it
// follows, e.g. "version 3, followed since 2026-12-07T12:00:00Z (cluster's version 1)", with
// what the node could not apply on lines of their own.
func configurationText(n *apb.Node, sep string) string {
	stored := n.GetConfigurationVersion()
	cs := n.GetStatus().GetConfiguration()
	if cs == nil {
		if stored == 0 {
			return "none"
		}
		return fmt.Sprintf("version %d, not reported by the node (a release without configuration, or not started yet)", stored)
	}
	var text string
	if cs.GetNodeVersion() == stored {
		text = fmt.Sprintf("version %d, followed since %s (cluster's version %d)", stored, cs.GetApplied().AsTime().UTC().Format(time.RFC3339), cs.GetClusterVersion())
	} else {
		text = fmt.Sprintf("version %d, the node still follows version %d (cluster's version %d)", stored, cs.GetNodeVersion(), cs.GetClusterVersion())
	}
	for _, e := range cs.GetErrors() {
		text += sep + "not applied: " + e
	}
	return text
}

// timeSyncText is how the node keeps its clock, e.g. "synced with 10.0.0.2:123 (stratum 10):
// 1.2ms off at 12:00:00Z, slew, within 0.4ms", with a warning and an error on lines of their
// own (joined by sep).
func timeSyncText(ts *apb.TimeSyncStatus, sep string) string {
	if ts == nil {
		return "-"
	}
	var lines []string
	switch {
	case ts.GetReference():
		lines = append(lines, "the cluster's time reference (serves its own clock)")
	case ts.GetSynced():
		lines = append(lines, fmt.Sprintf("synced with %s (stratum %d): %v off at %s, %s, within %v",
			ts.GetServer(), ts.GetStratum(), ts.GetOffset().AsDuration().Round(time.Microsecond),
			ts.GetLastSync().AsTime().UTC().Format(time.RFC3339), ts.GetAdjustment(),
			ts.GetRootDistance().AsDuration().Round(time.Microsecond)))
	default:
		lines = append(lines, "not synced")
	}
	if w := ts.GetWarning(); w != "" {
		lines = append(lines, "WARNING: "+w)
	}
	if e := ts.GetError(); e != "" {
		lines = append(lines, "last poll: "+e)
	}
	return strings.Join(lines, sep)
}

// versionText is the running release and slot, e.g. "0.2.0 (B)".
func versionText(sw *apb.NodeSoftware) string {
	if sw == nil || sw.GetVersion() == "" {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", sw.GetVersion(), sw.GetRunningSlot())
}

// otherSlotText is what the slot the node does not run holds, e.g. "0.3.0 staged".
func otherSlotText(sw *apb.NodeSoftware) string {
	for _, s := range sw.GetSlots() {
		if s.GetName() != sw.GetRunningSlot() {
			return slotText(s)
		}
	}
	return "-"
}

func slotText(s *apb.Slot) string {
	state := slotStateName(s.GetState())
	if s.GetVersion() == "" {
		return state
	}
	return s.GetVersion() + " " + state
}

// slotsText lists both slots, with a rolled-back slot's reason and last log lines.
func slotsText(sw *apb.NodeSoftware, sep string) string {
	if sw == nil || len(sw.GetSlots()) == 0 {
		return "-"
	}
	var lines []string
	for _, s := range sw.GetSlots() {
		line := s.GetName() + ": " + slotText(s)
		if s.GetName() == sw.GetRunningSlot() {
			line += ", running"
		}
		if s.GetBuildId() != "" {
			line += ", build " + s.GetBuildId()
		}
		lines = append(lines, line)
		if r := s.GetRollbackReason(); r != "" {
			lines = append(lines, "   why: "+r)
		}
		for _, l := range s.GetRollbackLog() {
			lines = append(lines, "   | "+l)
		}
	}
	return strings.Join(lines, sep)
}

// slotStateName is a slot state as operators read it: "committed", "rolled back".
func slotStateName(st apb.SlotState) string {
	if st == apb.SlotState_SLOT_STATE_UNSPECIFIED {
		return "unknown"
	}
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(st.String(), "SLOT_STATE_")), "_", " ")
}

// attestationText is what the cluster knows of the node's TPM: its EK fingerprint and how it is
// trusted, the last attested UKI, and the last refusal, each on a line of its own.
func attestationText(a *apb.NodeAttestation, sep string) string {
	if a == nil {
		return "-"
	}
	trust := "no EK certificate"
	switch {
	case a.GetEkPinned():
		trust = "EK pinned"
	case a.GetEkCertificateIssuer() != "":
		trust = "EK certificate from " + a.GetEkCertificateIssuer()
	}
	lines := []string{fmt.Sprintf("EK %x (%s)", a.GetEkFingerprint(), trust)}
	if ts := a.GetLastAttested(); ts != nil {
		lines = append(lines, fmt.Sprintf("attested at %s, UKI %x", ts.AsTime().UTC().Format(time.RFC3339), a.GetUki()))
	}
	if a.GetLastRefusal() != "" {
		lines = append(lines, fmt.Sprintf("REFUSED at %s: %s", a.GetLastRefused().AsTime().UTC().Format(time.RFC3339), a.GetLastRefusal()))
	}
	return strings.Join(lines, sep)
}
