package rpc

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestBoundError(t *testing.T) {
	long := strings.Repeat("é", MaxErrorMessage) // two bytes each: the cut falls inside one
	for _, tc := range []struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  func(string) bool
	}{
		{"nil stays nil", nil, codes.OK, func(m string) bool { return m == "" }},
		{"a short status is kept", status.Error(codes.NotFound, "node x: not found"), codes.NotFound,
			func(m string) bool { return m == "node x: not found" }},
		{"a long status is cut, keeping its code", status.Error(codes.InvalidArgument, "node_id "+long), codes.InvalidArgument,
			func(m string) bool {
				return strings.HasPrefix(m, "node_id éé") && strings.HasSuffix(m, " more bytes cut)") && len(m) < MaxErrorMessage+40 && utf8.ValidString(m)
			}},
		{"a long plain error is cut as Unknown", errors.New(long), codes.Unknown,
			func(m string) bool { return len(m) < MaxErrorMessage+40 && strings.Contains(m, "… (") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BoundError(tc.err)
			if (got == nil) != (tc.err == nil) {
				t.Fatalf("BoundError(%v) = %v", tc.err, got)
			}
			st := status.Convert(got)
			if st.Code() != tc.wantCode || !tc.wantMsg(st.Message()) {
				t.Errorf("got code %v, message %.100q… (%d bytes)", st.Code(), st.Message(), len(st.Message()))
			}
		})
	}
}
