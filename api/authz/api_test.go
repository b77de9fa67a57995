package authz_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoregistry"

	"metropolis.dev/metropolis/api/authz"
	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// services are the gRPC services Metropolis serves. A service added to the protos must be
// added here too, or TestEveryServiceIsChecked fails.
var services = []grpc.ServiceDesc{
	apb.Discovery_ServiceDesc,
	apb.AAA_ServiceDesc,
	apb.Management_ServiceDesc,
	apb.NodeManagement_ServiceDesc,
	cpb.Curator_ServiceDesc,
}

// fullMethods lists every method of services as gRPC names it ("/pkg.Service/Method").
func fullMethods() []string {
	var names []string
	for _, s := range services {
		for _, m := range s.Methods {
			names = append(names, "/"+s.ServiceName+"/"+m.MethodName)
		}
		for _, m := range s.Streams {
			names = append(names, "/"+s.ServiceName+"/"+m.StreamName)
		}
	}
	sort.Strings(names)
	return names
}

// TestEveryMethodDeclaresAuthorization is the completeness check: a Metropolis method without
// a valid authz option fails here.
func TestEveryMethodDeclaresAuthorization(t *testing.T) {
	checked, err := authz.CheckServices(protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("methods with missing or invalid authorization:\n%v", err)
	}
	if len(checked) != len(fullMethods()) {
		t.Errorf("CheckServices checked %d methods, the Go services have %d: %v", len(checked), len(fullMethods()), checked)
	}
}

// TestEveryServiceIsChecked makes sure the completeness check sees every method the gRPC
// servers can serve, and that ForMethod finds each by its gRPC name.
func TestEveryServiceIsChecked(t *testing.T) {
	checked, _ := authz.CheckServices(protoregistry.GlobalFiles)
	seen := make(map[string]bool)
	for _, name := range checked {
		s := string(name)
		i := strings.LastIndex(s, ".")
		seen["/"+s[:i]+"/"+s[i+1:]] = true
	}
	for _, m := range fullMethods() {
		if !seen[m] {
			t.Errorf("%s is served but was not checked", m)
		}
		if _, err := authz.ForMethod(m); err != nil {
			t.Errorf("ForMethod(%s): %v", m, err)
		}
		delete(seen, m)
	}
	for m := range seen {
		t.Errorf("%s was checked but its service is missing from this test's list", m)
	}
}

// TestEveryPermissionIsNeededSomewhere catches permissions that protect nothing: either a
// method lost its declaration or the permission should go.
func TestEveryPermissionIsNeededSomewhere(t *testing.T) {
	used := make(map[authz.Permission]bool)
	for _, m := range fullMethods() {
		a, err := authz.ForMethod(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range a.GetNeed() {
			used[p] = true
		}
	}
	for number, name := range authz.Permission_name {
		if p := authz.Permission(number); p != authz.Permission_PERMISSION_UNSPECIFIED && !used[p] {
			t.Errorf("%s is needed by no method", name)
		}
	}
}

// TestEveryProtoFileIsLinked makes sure the checks above see every .proto file under api/:
// a file whose Go package this test does not import would be missing from the registry, and
// its methods would go unchecked.
func TestEveryProtoFileIsLinked(t *testing.T) {
	root := os.DirFS("..")
	found := 0
	err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		found++
		// scripts/genproto names files "metropolis/api/<path>".
		registered := "metropolis/api/" + path
		if _, err := protoregistry.GlobalFiles.FindFileByPath(registered); err != nil {
			t.Errorf("%s is not registered (import its Go package in this test): %v", registered, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk api/: %v", err)
	}
	if found == 0 {
		t.Fatal("found no .proto files under api/")
	}
}
