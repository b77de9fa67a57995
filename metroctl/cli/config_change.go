package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apb "metropolis.dev/metropolis/api/v1"
)

// configSubject is a stored configuration that `config get|apply|edit` work on: one node's
// (nodeConfig) or the cluster's (clusterConfig).
type configSubject interface {
	// noun names it in sentences: "node metropolis-ab12", "the cluster".
	noun() string
	// command is the metroctl command line of verb on it, for advice: "metroctl node config
	// get metropolis-ab12".
	command(verb string) string
	// newConfiguration returns an empty configuration message.
	newConfiguration() proto.Message
	read(ctx context.Context, mgmt apb.ManagementClient) (*storedConfig, error)
	// check refuses a change before it is sent, for what metroctl knows better how to say.
	check(cur, next proto.Message) error
	// same reports whether storing next over cur would change nothing.
	same(cur, next proto.Message) bool
	// write stores next over cur if the stored version is still expected, or with dryRun
	// only asks whether it would.
	write(ctx context.Context, mgmt apb.ManagementClient, cur, next proto.Message, expected uint64, dryRun bool) (*written, error)
}

// written is what a write stored, or with a dry run would store.
type written struct {
	// version is the stored version after the call (with a trial, still the one the node
	// goes back to).
	version uint64
	// changed is whether the call changed (or would change) anything.
	changed bool
	// trial is the trial a node now tries instead of its stored configuration (a node's
	// change with --try), nil for a change that replaces the stored configuration.
	trial *apb.TrialNodeConfiguration
}

// storedConfig is a configuration as the cluster keeps it.
type storedConfig struct {
	version       uint64
	configuration proto.Message
	// changed is zero if it never changed.
	changed   time.Time
	changedBy string
	// effective is what a node follows (its own configuration with the cluster's defaults);
	// nil for the cluster's.
	effective proto.Message
	// trial is the configuration a node tries instead (`node config apply --try`), nil if
	// none, and for the cluster's.
	trial *apb.TrialNodeConfiguration
}

// header is the comment line above a printed document.
func (c *storedConfig) header(subject configSubject) string {
	what := strings.TrimPrefix(subject.noun(), "the ")
	if c.changed.IsZero() {
		return commentLines(fmt.Sprintf("%s, version %d (never changed)\n", what, c.version))
	}
	by := c.changedBy
	if by == "" {
		by = "an unknown caller"
	}
	return commentLines(fmt.Sprintf("%s, version %d (changed %s by %s)\n", what, c.version, c.changed.UTC().Format(time.RFC3339), by))
}

// applyOptions are how applyConfig applies.
type applyOptions struct {
	dryRun bool
	// source names the new configuration in the diff: the file, "edited".
	source string
	// again is the command to advise if the version is stale.
	again string
}

// applyConfig changes subject's configuration, read as cur, to doc's: it prints the diff,
// then stores the new configuration with a compare-and-set on doc's version (cur's if the
// document names none). Without a difference it stores nothing, but a dry run still asks
// the cluster, so that a dry run always checks the configuration and the version. It returns
// what was written, nil if nothing was sent.
func applyConfig(ctx context.Context, mgmt apb.ManagementClient, out io.Writer, subject configSubject, cur *storedConfig, doc *configDocument, opts applyOptions) (*written, error) {
	expected := cur.version
	if doc.Version != nil {
		expected = *doc.Version
	}
	diff, err := configDiff(cur.configuration, doc.Configuration, fmt.Sprintf("%s (version %d)", subject.noun(), cur.version), opts.source)
	if err != nil {
		return nil, err
	}
	same := subject.same(cur.configuration, doc.Configuration)
	if !same {
		fmt.Fprint(out, diff)
	}
	if same && !opts.dryRun {
		fmt.Fprintf(out, "No change: the configuration of %s is already this (version %d).\n", subject.noun(), cur.version)
		return nil, nil
	}
	if hasUnknownFields(cur.configuration.ProtoReflect()) {
		return nil, fmt.Errorf("configure %s: %w", subject.noun(), errUnknownFields)
	}
	if err := subject.check(cur.configuration, doc.Configuration); err != nil {
		return nil, err
	}
	w, err := subject.write(ctx, mgmt, cur.configuration, doc.Configuration, expected, opts.dryRun)
	if err != nil {
		return nil, configWriteError(subject, cur.version, expected, opts.again, err)
	}
	fmt.Fprintln(out, writtenText(subject, w, opts.dryRun))
	return w, nil
}

// writtenText says what a write did.
func writtenText(subject configSubject, w *written, dryRun bool) string {
	if t := w.trial; t != nil {
		expires := changedTime(t.GetExpires()).UTC().Format(time.RFC3339)
		switch {
		case dryRun && w.changed:
			return fmt.Sprintf("Dry run: the cluster accepts this configuration of %s as a trial (it would be version %d). Nothing was changed.", subject.noun(), t.GetVersion())
		case dryRun:
			return fmt.Sprintf("Dry run: %s already tries this configuration (version %d). Nothing was changed.", subject.noun(), t.GetVersion())
		case w.changed:
			return fmt.Sprintf("Trial stored: %s tries version %d of its configuration, and goes back to version %d by itself unless the trial is confirmed by %s.", subject.noun(), t.GetVersion(), w.version, expires)
		}
		return fmt.Sprintf("Trial already stored: %s tries this configuration as version %d, until %s unless it is confirmed.", subject.noun(), t.GetVersion(), expires)
	}
	switch {
	case dryRun && w.changed:
		return fmt.Sprintf("Dry run: the cluster accepts this configuration of %s (it would be version %d). Nothing was changed.", subject.noun(), w.version)
	case dryRun:
		return fmt.Sprintf("Dry run: the configuration of %s is already this (version %d). Nothing was changed.", subject.noun(), w.version)
	case w.changed:
		return fmt.Sprintf("Configured %s: now at version %d.", subject.noun(), w.version)
	}
	return fmt.Sprintf("No change: the configuration of %s is already this (version %d).", subject.noun(), w.version)
}

// configCallError is a change the cluster refused, said for the operator, keeping the gRPC
// status for callers that test for codes.
type configCallError struct {
	msg    string
	status *status.Status
}

func (e *configCallError) Error() string { return e.msg }

func (e *configCallError) GRPCStatus() *status.Status { return e.status }

// configWriteError says why a write failed. A stale version (codes.Aborted: the configuration
// moved on from expected, the version the change was made against, and was at read just
// before) says what to do; an invalid configuration (codes.InvalidArgument) is the cluster's
// message, which names the field; anything else as explain says it.
func configWriteError(subject configSubject, read, expected uint64, again string, err error) error {
	s, ok := status.FromError(err)
	switch {
	case ok && s.Code() == codes.Aborted:
		now := "it changed while the change was sent"
		if read != expected {
			now = fmt.Sprintf("it is at version %d now", read)
		}
		return &configCallError{status: s, msg: fmt.Sprintf("configure %s: the change was made against version %d, but someone changed the configuration since (%s); nothing was changed. "+
			"Read it again (%s) and redo the change on what it is now", subject.noun(), expected, now, again)}
	case ok && s.Code() == codes.InvalidArgument && s.Message() != "":
		action := "configure " + subject.noun()
		return &configCallError{status: s, msg: action + ": " + withoutAction(s.Message(), action)}
	}
	return explain("configure "+subject.noun(), err)
}

// errUnknownFields refuses to change a stored configuration holding fields this metroctl
// does not know (a newer cluster's): its rendering omits them, so storing it would drop them.
var errUnknownFields = errors.New("it holds fields this metroctl does not know, which replacing it would remove; use a metroctl as new as the cluster")

// hasUnknownFields reports whether m or a message in it holds fields unknown to this build.
func hasUnknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	unknown := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					unknown = hasUnknownFields(e.Message())
					return !unknown
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len() && !unknown; i++ {
					unknown = hasUnknownFields(v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			unknown = hasUnknownFields(v.Message())
		}
		return !unknown
	})
	return unknown
}
