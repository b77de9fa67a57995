package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// outputFormat is a value of the -o flag.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
	outputYAML  outputFormat = "yaml"
)

var outputFormats = []string{string(outputTable), string(outputJSON), string(outputYAML)}

// parseOutputFormat checks a -o value.
func parseOutputFormat(s string) (outputFormat, error) {
	switch f := outputFormat(s); f {
	case outputTable, outputJSON, outputYAML:
		return f, nil
	}
	return "", fmt.Errorf("output format %q: want table, json or yaml", s)
}

// addOutputFlag adds -o/--output to cmd, storing the raw value in dst.
func addOutputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", string(outputTable), "output format: table, json or yaml")
	mustRegisterCompletion(cmd, "output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// protoJSON returns msg as JSON in protojson's mapping (camelCase names, enums as names,
// bytes as base64). The text goes through encoding/json once more because protojson
// deliberately varies its whitespace, and scripts and tests want stable output.
func protoJSON(msg proto.Message) (json.RawMessage, error) {
	raw, err := protojson.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s as JSON: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	return json.RawMessage(raw), nil
}

// writeProtos writes msgs as a JSON or YAML list.
func writeProtos[M proto.Message](w io.Writer, format outputFormat, msgs []M) error {
	list := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		raw, err := protoJSON(m)
		if err != nil {
			return err
		}
		list = append(list, raw)
	}
	return writeStructured(w, format, list)
}

// writeProto writes one message as JSON or YAML.
func writeProto(w io.Writer, format outputFormat, msg proto.Message) error {
	raw, err := protoJSON(msg)
	if err != nil {
		return err
	}
	return writeStructured(w, format, raw)
}

// writeStructured writes v (anything encoding/json can encode) as indented JSON or as YAML.
func writeStructured(w io.Writer, format outputFormat, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == outputYAML {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return fmt.Errorf("encode output as YAML: %w", err)
		}
	} else {
		data = append(data, '\n')
	}
	_, err = w.Write(data)
	return err
}
