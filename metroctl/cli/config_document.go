package cli

// The configuration document is what `metroctl node config get` and `cluster config get`
// print and what `config apply` and `config edit` read back:
//
//	version: 3
//	configuration:
//	  ntp_servers:
//	  - time.example.com
//
// The configuration is the proto message (apb.NodeConfiguration or apb.ClusterConfiguration)
// in protojson's mapping with the proto field names, as YAML or JSON; version is the stored
// version it was read at, which apply sends as its compare-and-set. A node's trial (`node
// config apply --try`) is shown beside the document for reading, never as part of what apply
// takes (marshalDocument). This file is the codec and the diff of two configurations: pure
// functions, no I/O.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"sigs.k8s.io/yaml"

	apb "metropolis.dev/metropolis/api/v1"
)

const (
	// maxConfigDocument bounds the size of a document read: a configuration is a few
	// kilobytes, and parsing is not free.
	maxConfigDocument = 1 << 20
	// maxDocumentError bounds the length of a parse error, which may quote the input.
	maxDocumentError = 300
)

// configDocument is a configuration with the version it was read at.
type configDocument struct {
	// Version is nil if the document names none.
	Version       *uint64
	Configuration proto.Message
}

// documentEnvelope is the document's JSON shape; the configuration is protojson's.
type documentEnvelope struct {
	Version       uint64          `json:"version"`
	Configuration json.RawMessage `json:"configuration"`
	// Trial is a node's trial (apb.TrialNodeConfiguration in protojson), for reading only:
	// parseConfigDocument refuses it.
	Trial json.RawMessage `json:"trial,omitempty"`
}

// errTrialInDocument refuses a document holding a trial. Refused rather than ignored: an
// operator who changed the trial's configuration in the file, or meant to keep the trial,
// would otherwise see the stored configuration replaced instead, and which of the two to
// change is a decision apply must not take for them.
var errTrialInDocument = errors.New("trial: the document holds a node's trial, which get shows for reading only and apply does not take; " +
	"remove trial to apply the configuration, or keep the trial with `metroctl node config confirm`")

var configJSON = protojson.MarshalOptions{UseProtoNames: true}

// marshalConfigDocument renders a document as YAML (version first) or as indented JSON.
func marshalConfigDocument(format outputFormat, version uint64, cfg proto.Message) ([]byte, error) {
	return marshalDocument(format, version, cfg, nil, "")
}

// marshalDocument is marshalConfigDocument with a node's trial, if trial is not nil. In YAML
// the trial is comment lines above the document, which apply does not read, so that what get
// prints applies as the stored configuration; JSON has no comments, so there it is the field
// trial, which apply refuses (errTrialInDocument). confirm is the command that confirms a
// trial, without the version.
func marshalDocument(format outputFormat, version uint64, cfg proto.Message, trial *apb.TrialNodeConfiguration, confirm string) ([]byte, error) {
	raw, err := configJSON.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", cfg.ProtoReflect().Descriptor().FullName(), err)
	}
	if format == outputJSON {
		env := documentEnvelope{Version: version, Configuration: yamlReadable(raw)}
		if trial != nil {
			t, err := configJSON.Marshal(trial)
			if err != nil {
				return nil, fmt.Errorf("encode the trial: %w", err)
			}
			env.Trial = yamlReadable(t)
		}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		// Escaped as for YAML too, so that the JSON reads back through the YAML parser.
		if err := enc.Encode(env); err != nil {
			return nil, fmt.Errorf("encode configuration document: %w", err)
		}
		return out.Bytes(), nil
	}
	var comment string
	if trial != nil {
		if comment, err = trialComment(trial, confirm); err != nil {
			return nil, err
		}
	}
	// YAML sorts mapping keys, which would put version last; it is written by hand instead.
	body, err := yaml.JSONToYAML(append(append([]byte(`{"configuration":`), yamlReadable(raw)...), '}'))
	if err != nil {
		return nil, fmt.Errorf("encode configuration as YAML: %w", err)
	}
	return append([]byte(comment+"version: "+strconv.FormatUint(version, 10)+"\n"), body...), nil
}

// trialComment is a trial as YAML comment lines: its version, when it expires, how to confirm
// it, and its configuration.
func trialComment(t *apb.TrialNodeConfiguration, confirm string) (string, error) {
	cfg, err := configYAML(t.GetConfiguration())
	if err != nil {
		return "", err
	}
	by := t.GetChangedBy()
	if by == "" {
		by = "an unknown caller"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Trial: version %d (changed %s by %s), expires %s. The node follows it until then, and\n",
		t.GetVersion(), t.GetChanged().AsTime().UTC().Format(time.RFC3339), by, t.GetExpires().AsTime().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "goes back to the configuration below unless it is confirmed:\n  %s --version %d\n", confirm, t.GetVersion())
	b.WriteString("The trial's configuration, for reading only: apply and edit take the document below.\n")
	for _, line := range splitLines(cfg) {
		b.WriteString("  " + line)
	}
	return commentLines(b.String()), nil
}

// commentLines makes text, lines ending in "\n", YAML comment lines. The characters YAML
// takes for line breaks besides "\n" are escaped, since one would end a comment early and
// what followed would be read as YAML; so are those YAML refuses anywhere, comments included.
func commentLines(text string) string {
	var b strings.Builder
	for _, line := range splitLines(text) {
		b.WriteString("# ")
		for _, r := range strings.TrimSuffix(line, "\n") {
			switch {
			case r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029 || notYAMLPrintable(r):
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// configYAML renders a configuration alone as YAML: the text diffs compare.
func configYAML(cfg proto.Message) (string, error) {
	raw, err := configJSON.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", cfg.ProtoReflect().Descriptor().FullName(), err)
	}
	y, err := yaml.JSONToYAML(yamlReadable(raw))
	if err != nil {
		return "", fmt.Errorf("encode configuration as YAML: %w", err)
	}
	return string(y), nil
}

// yamlReadable escapes, in JSON text, the characters YAML does not allow unescaped (DEL, C1
// controls, U+FFFE and U+FFFF), which JSON leaves as they are: JSONToYAML reads the JSON as
// YAML and would refuse them. They can only be inside strings, where \u escapes mean them.
func yamlReadable(j []byte) []byte {
	if !bytes.ContainsFunc(j, notYAMLPrintable) {
		return j
	}
	var out bytes.Buffer
	for _, r := range string(j) {
		if notYAMLPrintable(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
		} else {
			out.WriteRune(r)
		}
	}
	return out.Bytes()
}

// notYAMLPrintable reports whether YAML refuses r unescaped (the YAML 1.1 printable set).
func notYAMLPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return false
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return false
	}
	return true
}

// configDiff is a unified diff of the YAML of two configurations, "" if they render the same.
func configDiff(from, to proto.Message, fromName, toName string) (string, error) {
	a, err := configYAML(from)
	if err != nil {
		return "", err
	}
	b, err := configYAML(to)
	if err != nil {
		return "", err
	}
	if a == b {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: splitLines(a), B: splitLines(b),
		FromFile: fromName, ToFile: toName, Context: 3,
	})
}

// splitLines splits text into lines that keep their "\n". (difflib.SplitLines adds an empty
// last line, which the diff would show.)
func splitLines(text string) []string {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// parseConfigDocument parses a document (YAML or JSON) whose configuration is of empty's
// type; empty itself is not changed. It is strict: a key the document or the message does
// not have, a duplicate key or a value of the wrong shape is an error naming where it is.
func parseConfigDocument(data []byte, empty proto.Message) (*configDocument, error) {
	doc, err := parseDocument(data, empty)
	if err != nil {
		return nil, boundError(err)
	}
	return doc, nil
}

func parseDocument(data []byte, empty proto.Message) (*configDocument, error) {
	if len(data) > maxConfigDocument {
		return nil, fmt.Errorf("the document is %d bytes, more than the %d a configuration may have", len(data), maxConfigDocument)
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(j, &top); err != nil || top == nil {
		return nil, errors.New("the document must be a mapping with version (optional) and configuration")
	}
	for _, k := range sortedKeys(top) {
		if k == "trial" {
			return nil, errTrialInDocument
		}
		if k != "version" && k != "configuration" {
			return nil, fmt.Errorf("unknown field %.80q: the document has only version and configuration", k)
		}
	}
	doc := &configDocument{}
	if v, ok := top["version"]; ok && string(v) != "null" {
		var version uint64
		if err := json.Unmarshal(v, &version); err != nil {
			return nil, fmt.Errorf("version: want a whole number of at least 0, got %.80s", v)
		}
		doc.Version = &version
	}
	raw, ok := top["configuration"]
	if !ok {
		return nil, errors.New("the document has no configuration (an empty one is written configuration: {})")
	}
	cfg := empty.ProtoReflect().New().Interface()
	if string(raw) != "null" {
		var tree any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		if err := checkShape("configuration", tree, cfg.ProtoReflect().Descriptor()); err != nil {
			return nil, err
		}
		if err := protojson.Unmarshal(raw, cfg); err != nil {
			return nil, fmt.Errorf("configuration: %s", protojsonReason(err))
		}
	}
	doc.Configuration = cfg
	return doc, nil
}

// checkShape checks v, the JSON of a message of type md at path, against md: every key names
// a field, and every value has the field's shape (object, list, string or bool). It says
// where the first mismatch is, which protojson does not; protojson checks the rest.
func checkShape(path string, v any, md protoreflect.MessageDescriptor) error {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil // well-known types have JSON forms of their own
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want a mapping of %s's fields, got %s", path, md.Name(), jsonKind(v))
	}
	for _, k := range sortedKeys(obj) {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByTextName(k)
		}
		if fd == nil {
			return fmt.Errorf("%s: unknown field %.80q", path, k)
		}
		if err := checkField(path+"."+string(fd.Name()), obj[k], fd); err != nil {
			return err
		}
	}
	return nil
}

// checkField checks the value v of field fd; null is always allowed and means unset.
func checkField(path string, v any, fd protoreflect.FieldDescriptor) error {
	switch {
	case v == nil:
		return nil
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a mapping, got %s", path, jsonKind(v))
		}
		for _, k := range sortedKeys(obj) {
			if err := checkValue(fmt.Sprintf("%s[%.80q]", path, k), obj[k], fd.MapValue()); err != nil {
				return err
			}
		}
		return nil
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want a list, got %s", path, jsonKind(v))
		}
		for i, e := range list {
			if err := checkValue(fmt.Sprintf("%s[%d]", path, i), e, fd); err != nil {
				return err
			}
		}
		return nil
	}
	return checkValue(path, v, fd)
}

// checkValue checks one value of fd's kind (an element, for lists and maps).
func checkValue(path string, v any, fd protoreflect.FieldDescriptor) error {
	var want string
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if v == nil {
			return nil
		}
		return checkShape(path, v, fd.Message())
	case protoreflect.StringKind:
		if _, ok := v.(string); ok {
			return nil
		}
		want = "a string"
	case protoreflect.BoolKind:
		if _, ok := v.(bool); ok {
			return nil
		}
		want = "true or false"
	default:
		return nil // numbers, enums and bytes: protojson knows their many spellings
	}
	return fmt.Errorf("%s: want %s, got %s", path, want, jsonKind(v))
}

// jsonKind names the kind of a decoded JSON value.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %.40q", v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return fmt.Sprintf("the number %.40s", v)
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// protojsonPosition is protojson's position in its input, which is the document converted to
// JSON, not the file the operator wrote; it would mislead.
var protojsonPosition = regexp.MustCompile(`\s*\(line \d+:\d+\)`)

// protojsonReason is a protojson error without its "proto:" prefix (whose space protojson
// varies on purpose) and its position.
func protojsonReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "proto:")
	msg = strings.TrimLeft(msg, " \u00a0")
	return protojsonPosition.ReplaceAllString(msg, "")
}

// boundError shortens err's text to maxDocumentError bytes, on a rune boundary.
func boundError(err error) error {
	msg := err.Error()
	if len(msg) <= maxDocumentError {
		return err
	}
	cut := maxDocumentError - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return errors.New(msg[:cut] + "…")
}
