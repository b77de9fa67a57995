// Package runtime only holds the go.mod that pins the container runtime's upstream versions;
// see the tool lines there and scripts/build-runtime.
package runtime
