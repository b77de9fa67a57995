package cli

// get, apply and edit of a stored configuration, shared by `metroctl node config` and
// `metroctl cluster config`; configKind says what differs between the two.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// configKind is what differs between `node config` and `cluster config`.
type configKind struct {
	// group is the parent command ("node", "cluster").
	group string
	// argUse is the positional argument in usage lines ("NODE", "").
	argUse string
	args   cobra.PositionalArgs
	// complete completes the positional argument; nil for none.
	complete cobra.CompletionFunc
	// subject returns the configuration args name.
	subject func(args []string) (configSubject, error)
	// effective is whether get offers --effective (a node's configuration with the cluster's
	// defaults filled in).
	effective bool
	// followTrial, if set, follows a trial that apply or edit stored (a node's, with --try)
	// until the node reports it runs it; nil where there are no trials.
	followTrial func(ctx context.Context, progress, out io.Writer, subject configSubject, w *written) error
}

// followed follows what apply or edit wrote, if that is a trial.
func (k configKind) followed(cmd *cobra.Command, subject configSubject, w *written) error {
	if w == nil || w.trial == nil || k.followTrial == nil {
		return nil
	}
	return k.followTrial(cmd.Context(), cmd.ErrOrStderr(), cmd.OutOrStdout(), subject, w)
}

// use is a usage line: the verb, the argument if any, then rest.
func (k configKind) use(verb, rest string) string {
	u := verb
	if k.argUse != "" {
		u += " " + k.argUse
	}
	if rest != "" {
		u += " " + rest
	}
	return u
}

// documentHelp describes the document every verb prints or reads.
const documentHelp = "The document is YAML (or JSON) with the configuration's version and the configuration,\n" +
	"its fields named as in the API (api/v1/configuration.proto):\n\n" +
	"  version: 3\n" +
	"  configuration:\n" +
	"    ntp_servers:\n" +
	"    - time.example.com\n\n" +
	"Every change is a compare-and-set: it is stored only if the configuration is still at the\n" +
	"document's version, so that a change made meanwhile by someone else is not overwritten.\n" +
	"If it is not, nothing changes, and the change must be redone on the configuration as it\n" +
	"is now."

func (s *session) configGetCommand(k configKind) *cobra.Command {
	var output string
	var effective bool
	long := "Prints the " + k.group + "'s stored configuration as a document, which\n" +
		"`metroctl " + k.group + " config apply` takes back. In YAML, a comment line above it says its\n" +
		"version and when and by whom it last changed.\n\n" + documentHelp
	if k.effective {
		long += "\n\nWith --effective it prints instead what the node follows: its own configuration with the\n" +
			"cluster's node defaults filled in where it is silent (see `metroctl cluster config get`).\n" +
			"That is for reading only; apply does not take it."
	}
	cmd := &cobra.Command{
		Use:               k.use("get", "[-o yaml|json]"),
		Short:             "Print the " + k.group + "'s configuration",
		Long:              long,
		Args:              k.args,
		ValidArgsFunction: k.complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseDocumentFormat(output)
			if err != nil {
				return err
			}
			subject, err := k.subject(args)
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("read the configuration of "+subject.noun(), err)
			}
			defer done()
			cur, err := subject.read(ctx, mgmt)
			if err != nil {
				return explain("read the configuration of "+subject.noun(), err)
			}
			if effective {
				return writeEffectiveConfig(cmd.OutOrStdout(), format, subject, cur)
			}
			return writeStoredConfig(cmd.OutOrStdout(), format, subject, cur)
		},
	}
	addDocumentFormatFlag(cmd, &output)
	if k.effective {
		cmd.Flags().BoolVar(&effective, "effective", false, "print what the node follows (its configuration with the cluster's defaults), not what is stored")
	}
	return cmd
}

func (s *session) configApplyCommand(k configKind) *cobra.Command {
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   k.use("apply", "-f FILE [--dry-run]"),
		Short: "Replace the " + k.group + "'s configuration with the one in a file",
		Long: "Reads a document (as `metroctl " + k.group + " config get` prints it) from FILE, or from standard\n" +
			"input with -f -, prints how it differs from the stored configuration as a unified diff,\n" +
			"and stores it. There is no prompt: --dry-run is the preview, which shows the diff and has\n" +
			"the cluster check the configuration and the version without storing anything.\n\n" +
			documentHelp + "\n\n" +
			"The version is the document's if it has one, else the version read just before storing:\n" +
			"without one, apply replaces whatever is stored. A document equal to the stored\n" +
			"configuration changes nothing and is not sent, except with --dry-run, which always asks\n" +
			"the cluster. Unknown fields are refused, naming them.",
		Args:              k.args,
		ValidArgsFunction: k.complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			subject, err := k.subject(args)
			if err != nil {
				return err
			}
			data, err := readDocumentFile(cmd.InOrStdin(), file)
			if err != nil {
				return err
			}
			source := file
			if file == "-" {
				source = "standard input"
			}
			doc, err := parseConfigDocument(data, subject.newConfiguration())
			if err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("configure "+subject.noun(), err)
			}
			defer done()
			cur, err := subject.read(ctx, mgmt)
			if err != nil {
				return explain("read the configuration of "+subject.noun(), err)
			}
			w, err := applyConfig(ctx, mgmt, cmd.OutOrStdout(), subject, cur, doc, applyOptions{dryRun: dryRun, source: source, again: subject.command("get")})
			if err != nil || dryRun {
				return err
			}
			return k.followed(cmd, subject, w)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the document to apply (- for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the diff and have the cluster check the change, without storing it")
	if err := cmd.MarkFlagRequired("filename"); err != nil {
		panic(err)
	}
	if err := cmd.MarkFlagFilename("filename", "yaml", "yml", "json"); err != nil {
		panic(err)
	}
	return cmd
}

// editIntro is the comment at the top of the file edit opens.
const editIntro = "# Change the configuration below, save and quit the editor: the change is then applied as\n" +
	"# with `apply`. Leaving it unchanged, or emptying the file, changes nothing.\n"

func (s *session) configEditCommand(k configKind) *cobra.Command {
	return &cobra.Command{
		Use:   k.use("edit", ""),
		Short: "Edit the " + k.group + "'s configuration in an editor",
		Long: "Opens the stored configuration, as `metroctl " + k.group + " config get` prints it, in an editor:\n" +
			"$VISUAL, else $EDITOR, else vi (notepad on Windows). When the editor exits, the file is\n" +
			"applied as by `metroctl " + k.group + " config apply`, against the version read before editing;\n" +
			"an unchanged or emptied file changes nothing. If the file does not parse or the cluster\n" +
			"refuses it, the file is kept and its path printed, to fix and apply it.\n\n" + documentHelp,
		Args:              k.args,
		ValidArgsFunction: k.complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			subject, err := k.subject(args)
			if err != nil {
				return err
			}
			// Two connections: the timeout covers talking to the cluster, not the editing.
			ctx, cancel := s.timed(cmd.Context())
			mgmt, done, err := s.management(ctx)
			if err != nil {
				cancel()
				return explain("read the configuration of "+subject.noun(), err)
			}
			cur, err := subject.read(ctx, mgmt)
			done()
			cancel()
			if err != nil {
				return explain("read the configuration of "+subject.noun(), err)
			}
			doc, err := marshalDocument(outputYAML, cur.version, cur.configuration, cur.trial, subject.command("confirm"))
			if err != nil {
				return err
			}
			text := append([]byte(cur.header(subject)+editIntro), doc...)
			path, edited, err := s.editText(cmd.Context(), runtime.GOOS, "metroctl-"+k.group+"-config-*.yaml", text)
			if err != nil {
				return err
			}
			// After a failure the edit is kept, not lost: to fix and apply, or (its version
			// being stale) to redo on what is stored now.
			kept := func(err error) error {
				if status.Code(err) == codes.Aborted {
					return fmt.Errorf("%w\nThe edited configuration is kept in %s", err, path)
				}
				return fmt.Errorf("%w\nThe edited configuration is kept in %s; to apply it once fixed: %s -f %s", err, path, subject.command("apply"), path)
			}
			if isEmptyDocument(edited) {
				os.Remove(path)
				fmt.Fprintln(cmd.OutOrStdout(), "The file is empty; nothing was changed.")
				return nil
			}
			next, err := parseConfigDocument(edited, subject.newConfiguration())
			if err != nil {
				return kept(fmt.Errorf("the edited configuration: %w", err))
			}
			ctx, cancel = s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err = s.management(ctx)
			if err != nil {
				return kept(explain("configure "+subject.noun(), err))
			}
			defer done()
			w, err := applyConfig(ctx, mgmt, cmd.OutOrStdout(), subject, cur, next, applyOptions{source: "edited", again: subject.command("edit")})
			if err != nil {
				return kept(err)
			}
			// Stored: whatever follows, the file is no longer needed to apply the change.
			os.Remove(path)
			return k.followed(cmd, subject, w)
		},
	}
}

// writeStoredConfig writes cur as a document: in YAML after its header comment, in JSON
// alone.
func writeStoredConfig(w io.Writer, format outputFormat, subject configSubject, cur *storedConfig) error {
	doc, err := marshalDocument(format, cur.version, cur.configuration, cur.trial, subject.command("confirm"))
	if err != nil {
		return err
	}
	if format == outputYAML {
		doc = append([]byte(cur.header(subject)), doc...)
	}
	_, err = w.Write(doc)
	return err
}

// writeEffectiveConfig writes the configuration a node follows, alone (not as a document).
func writeEffectiveConfig(w io.Writer, format outputFormat, subject configSubject, cur *storedConfig) error {
	raw, err := configJSON.Marshal(cur.effective)
	if err != nil {
		return fmt.Errorf("encode the effective configuration: %w", err)
	}
	if format == outputYAML {
		fmt.Fprintf(w, "# %s, effective configuration: version %d of its own with the cluster's defaults (not for apply)\n", subject.noun(), cur.version)
	}
	return writeStructured(w, format, json.RawMessage(yamlReadable(raw)))
}

// readDocumentFile reads the document to apply from file, or from stdin for "-", at most
// maxConfigDocument bytes and one more, which parseConfigDocument refuses.
func readDocumentFile(stdin io.Reader, file string) ([]byte, error) {
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxConfigDocument+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return data, nil
}

// isEmptyDocument reports whether data holds nothing but comments and space.
func isEmptyDocument(data []byte) bool {
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// parseDocumentFormat checks a -o value of a configuration document.
func parseDocumentFormat(s string) (outputFormat, error) {
	switch f := outputFormat(s); f {
	case outputYAML, outputJSON:
		return f, nil
	}
	return "", fmt.Errorf("output format %.80q: want yaml or json", s)
}

// addDocumentFormatFlag adds -o/--output, yaml or json, to cmd.
func addDocumentFormatFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", string(outputYAML), "output format: yaml or json")
	mustRegisterCompletion(cmd, "output", cobra.FixedCompletions([]string{string(outputYAML), string(outputJSON)}, cobra.ShellCompDirectiveNoFileComp))
}
