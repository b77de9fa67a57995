package authz

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// APIPackagePrefix starts the proto package of every Metropolis API file. Services in such
// packages are the ones whose methods must declare their authorization; services of
// dependencies (gRPC health, reflection) are not checked.
const APIPackagePrefix = "metropolis."

// CheckServices checks the declaration of every method of every Metropolis service registered
// in files (protoregistry.GlobalFiles in a program). It returns the full names of the methods
// it checked, so that a caller can tell "all fine" from "found nothing to check", and an error
// naming each method whose declaration is missing or invalid.
func CheckServices(files *protoregistry.Files) ([]protoreflect.FullName, error) {
	var checked []protoreflect.FullName
	var errs []error
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), APIPackagePrefix) {
			return true
		}
		services := fd.Services()
		for i := 0; i < services.Len(); i++ {
			methods := services.Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				md := methods.Get(j)
				checked = append(checked, md.FullName())
				if err := checkMethod(md); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return true
	})
	return checked, errors.Join(errs...)
}

// checkMethod checks that md carries a valid declaration.
func checkMethod(md protoreflect.MethodDescriptor) error {
	a, err := declared(md)
	if err != nil {
		return err
	}
	if err := validate(a); err != nil {
		return fmt.Errorf("method %s: %w", md.FullName(), err)
	}
	return nil
}

// validate checks that a declaration says exactly one thing: permissions that exist, or open
// access. A declaration that says both would leave a reader guessing which one wins.
func validate(a *Authorization) error {
	switch {
	case len(a.GetNeed()) > 0 && a.GetAllowUnauthenticated():
		return errors.New("declares both needed permissions and allow_unauthenticated; choose one")
	case len(a.GetNeed()) == 0 && !a.GetAllowUnauthenticated():
		return errors.New("declares neither needed permissions nor allow_unauthenticated")
	}
	seen := make(map[Permission]bool)
	for i, p := range a.GetNeed() {
		if p == Permission_PERMISSION_UNSPECIFIED {
			return fmt.Errorf("need[%d]: PERMISSION_UNSPECIFIED is not a permission", i)
		}
		if _, known := Permission_name[int32(p)]; !known {
			return fmt.Errorf("need[%d]: unknown permission %d", i, int32(p))
		}
		if seen[p] {
			return fmt.Errorf("need[%d]: %s listed twice", i, p)
		}
		seen[p] = true
	}
	return nil
}
