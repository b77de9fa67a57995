package layering

import (
	"fmt"
	"slices"
	"strings"
)

// Layers are the repository's top-level directories from the bottom layer up.
var Layers = [][]string{
	{"osbase"},
	{"api"},
	{"node"},
	{"metroctl", "launch", "build"},
	{"cmd", "test", "bench"},
}

// sideways are the imports allowed between different directories of the same layer.
var sideways = map[string][]string{
	"launch": {"metroctl"},
}

// kubernetesModule is upstream Kubernetes; only kubernetesImporter may depend on it.
const (
	kubernetesModule   = "k8s.io/kubernetes"
	kubernetesImporter = "cmd/kube"
)

// Package is one package of the module as `go list` describes it.
type Package struct {
	// Path is the import path.
	Path string
	// Imports are the packages it imports directly, its tests' imports included.
	Imports []string
	// Deps are all the packages it depends on, directly or not (without its tests').
	Deps []string
}

// Violation is an import against the order.
type Violation struct {
	// From and To are the importing and the imported package, relative to the module.
	From, To string
	// Why says which rule the import breaks.
	Why string
}

func (v Violation) String() string { return fmt.Sprintf("%s imports %s: %s", v.From, v.To, v.Why) }

// Check returns every import in pkgs, packages of module, that breaks the order.
func Check(module string, pkgs []Package) []Violation {
	var out []Violation
	for _, p := range pkgs {
		from, ok := strings.CutPrefix(p.Path, module+"/")
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			to, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if why := checkEdge(top(from), top(to)); why != "" {
				out = append(out, Violation{From: from, To: to, Why: why})
			}
		}
		if from == kubernetesImporter {
			continue
		}
		for _, dep := range p.Deps {
			if dep == kubernetesModule || strings.HasPrefix(dep, kubernetesModule+"/") {
				out = append(out, Violation{From: from, To: dep, Why: "only " + kubernetesImporter + " links upstream Kubernetes; use client-go, or run the kube binary"})
				break
			}
		}
	}
	return out
}

// checkEdge says why directory from may not import directory to, or "" if it may.
func checkEdge(from, to string) string {
	if from == to {
		return ""
	}
	lf, lt := layerOf(from), layerOf(to)
	switch {
	case lf < 0:
		return fmt.Sprintf("%s is in no layer; add it to layering.Layers", from)
	case lt < 0:
		return fmt.Sprintf("%s is in no layer; add it to layering.Layers", to)
	case lt < lf:
		return ""
	case lt > lf:
		return fmt.Sprintf("%s is a higher layer than %s (order: %s)", to, from, order())
	case slices.Contains(sideways[from], to):
		return ""
	default:
		return fmt.Sprintf("%s and %s are the same layer and %s may not import %s", from, to, from, to)
	}
}

func top(rel string) string {
	dir, _, _ := strings.Cut(rel, "/")
	return dir
}

func layerOf(dir string) int {
	for i, l := range Layers {
		if slices.Contains(l, dir) {
			return i
		}
	}
	return -1
}

func order() string {
	parts := make([]string, len(Layers))
	for i, l := range Layers {
		parts[i] = strings.Join(l, ", ")
	}
	return strings.Join(parts, " < ")
}
