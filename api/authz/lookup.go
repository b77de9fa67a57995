package authz

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

var (
	// ErrUnknownMethod is returned for a method name that names no method of a registered
	// service (a typo, or a service whose Go package is not linked in).
	ErrUnknownMethod = errors.New("unknown method")
	// ErrNoDeclaration is returned for a method that carries no authz option at all.
	ErrNoDeclaration = errors.New("declares no authorization")
)

// ForMethod returns the authorization declared on the gRPC method fullMethod, written as gRPC
// writes it ("/metropolis.api.v1.Management/ApproveNode"), from protoregistry.GlobalFiles. The
// method's Go package must be linked into the program, which a server implementing it always
// is. It returns the declaration as written; CheckServices and Decide judge whether it is
// valid.
func ForMethod(fullMethod string) (*Authorization, error) {
	md, err := findMethod(protoregistry.GlobalFiles, fullMethod)
	if err != nil {
		return nil, err
	}
	return declared(md)
}

// findMethod resolves a gRPC full method name in files.
func findMethod(files *protoregistry.Files, fullMethod string) (protoreflect.MethodDescriptor, error) {
	service, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok || !strings.HasPrefix(fullMethod, "/") || service == "" || method == "" {
		return nil, fmt.Errorf("method %q: %w (want /package.Service/Method)", fullMethod, ErrUnknownMethod)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("method %q: service %s: %w", fullMethod, service, ErrUnknownMethod)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("method %q: %s is not a service: %w", fullMethod, service, ErrUnknownMethod)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil, fmt.Errorf("method %q: %w", fullMethod, ErrUnknownMethod)
	}
	return md, nil
}

// declared reads the authz option of md.
func declared(md protoreflect.MethodDescriptor) (*Authorization, error) {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, E_Authz) {
		return nil, fmt.Errorf("method %s: %w", md.FullName(), ErrNoDeclaration)
	}
	a, ok := proto.GetExtension(opts, E_Authz).(*Authorization)
	if !ok || a == nil {
		return nil, fmt.Errorf("method %s: %w", md.FullName(), ErrNoDeclaration)
	}
	return a, nil
}
