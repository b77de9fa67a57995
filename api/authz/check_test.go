package authz

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// testMethod is a method of a synthetic service, with the declaration it carries (nil: no
// authz option at all).
type testMethod struct {
	name string
	decl *Authorization
}

// testRegistry builds a registry holding one service named service in proto package pkg with
// the given methods, so that checks can be tested on declarations no real service has.
func testRegistry(t *testing.T, pkg, service string, methods []testMethod) *protoregistry.Files {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String(strings.ReplaceAll(pkg, ".", "/") + "/test.proto"),
		Package:     proto.String(pkg),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Empty")}},
		Service:     []*descriptorpb.ServiceDescriptorProto{{Name: proto.String(service)}},
	}
	empty := "." + pkg + ".Empty"
	for _, m := range methods {
		mdp := &descriptorpb.MethodDescriptorProto{
			Name:       proto.String(m.name),
			InputType:  proto.String(empty),
			OutputType: proto.String(empty),
		}
		if m.decl != nil {
			mdp.Options = &descriptorpb.MethodOptions{}
			proto.SetExtension(mdp.Options, E_Authz, m.decl)
		}
		fdp.Service[0].Method = append(fdp.Service[0].Method, mdp)
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatalf("build test descriptor: %v", err)
	}
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		t.Fatalf("register test descriptor: %v", err)
	}
	return files
}

func need(ps ...Permission) *Authorization { return &Authorization{Need: ps} }

func TestCheckMethodJudgesEachDeclaration(t *testing.T) {
	cases := []struct {
		name    string
		decl    *Authorization
		wantErr string // empty: valid
	}{
		{"OnePermission", need(Permission_PERMISSION_APPROVE_NODE), ""},
		{"TwoPermissions", need(Permission_PERMISSION_READ_CLUSTER_STATUS, Permission_PERMISSION_READ_NODE_LOGS), ""},
		{"OpenToAnyone", &Authorization{AllowUnauthenticated: true}, ""},
		{"NoOption", nil, "declares no authorization"},
		{"EmptyOption", &Authorization{}, "declares neither"},
		{"BothPermissionsAndOpen", &Authorization{Need: []Permission{Permission_PERMISSION_APPROVE_NODE}, AllowUnauthenticated: true}, "declares both"},
		{"UnspecifiedPermission", need(Permission_PERMISSION_UNSPECIFIED), "need[0]: PERMISSION_UNSPECIFIED is not a permission"},
		{"UnknownPermission", need(Permission_PERMISSION_APPROVE_NODE, Permission(999)), "need[1]: unknown permission 999"},
		{"DuplicatePermission", need(Permission_PERMISSION_DELETE_NODE, Permission_PERMISSION_DELETE_NODE), "need[1]: PERMISSION_DELETE_NODE listed twice"},
	}
	var methods []testMethod
	for _, c := range cases {
		methods = append(methods, testMethod{c.name, c.decl})
	}
	files := testRegistry(t, "metropolis.test", "Test", methods)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			md, err := findMethod(files, "/metropolis.test.Test/"+c.name)
			if err != nil {
				t.Fatal(err)
			}
			err = checkMethod(md)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("valid declaration rejected: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("invalid declaration accepted, want error containing %q", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("error %q does not contain %q", err, c.wantErr)
			case err != nil && !strings.Contains(err.Error(), "metropolis.test.Test."+c.name):
				t.Fatalf("error %q does not name the method", err)
			}
		})
	}
}

func TestCheckServicesReportsEveryBadMethod(t *testing.T) {
	files := testRegistry(t, "metropolis.test", "Test", []testMethod{
		{"Good", need(Permission_PERMISSION_APPROVE_NODE)},
		{"Missing", nil},
		{"Both", &Authorization{Need: []Permission{Permission_PERMISSION_APPROVE_NODE}, AllowUnauthenticated: true}},
	})
	checked, err := CheckServices(files)
	if len(checked) != 3 {
		t.Errorf("checked %v, want all 3 methods", checked)
	}
	if err == nil {
		t.Fatal("CheckServices accepted a service with bad declarations")
	}
	for _, bad := range []string{"metropolis.test.Test.Missing", "metropolis.test.Test.Both"} {
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error does not name %s:\n%v", bad, err)
		}
	}
	if strings.Contains(err.Error(), "metropolis.test.Test.Good") {
		t.Errorf("error names the valid method Good:\n%v", err)
	}
}

func TestCheckServicesSkipsOtherPackages(t *testing.T) {
	files := testRegistry(t, "grpc.health.test", "Health", []testMethod{{"Check", nil}})
	checked, err := CheckServices(files)
	if err != nil || len(checked) != 0 {
		t.Fatalf("CheckServices on a non-Metropolis service = %v, %v; want nothing checked, no error", checked, err)
	}
}

func TestFindMethodRejectsMalformedNames(t *testing.T) {
	files := testRegistry(t, "metropolis.test", "Test", []testMethod{{"Good", need(Permission_PERMISSION_APPROVE_NODE)}})
	for _, name := range []string{
		"", "/", "//", "metropolis.test.Test/Good", "/metropolis.test.Test", "/metropolis.test.Test/",
		"/metropolis.test.Test/Absent", "/metropolis.test.Absent/Good", "/metropolis.test.Empty/Good",
	} {
		if _, err := findMethod(files, name); !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("findMethod(%q) = %v, want ErrUnknownMethod", name, err)
		}
	}
	md, err := findMethod(files, "/metropolis.test.Test/Good")
	if err != nil || md.FullName() != protoreflect.FullName("metropolis.test.Test.Good") {
		t.Errorf("findMethod of an existing method = %v, %v", md, err)
	}
}
