package authz_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"metropolis.dev/metropolis/api/authz"
)

// apiDoc is the operator-facing page whose method table this test keeps in step with the
// declarations.
const apiDoc = "../../docs/api.md"

// docRow is what the method table says about one method.
type docRow struct{ needs, callers string }

// TestAPIDocMatchesDeclarations reads the method table of docs/api.md (rows whose first cell
// is `Service.Method`) and compares each row with the method's declaration: the same methods,
// the same permissions, the same kinds of caller.
func TestAPIDocMatchesDeclarations(t *testing.T) {
	text, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatalf("read %s: %v", apiDoc, err)
	}
	documented := make(map[string]docRow)
	for _, line := range strings.Split(string(text), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if !strings.Contains(name, ".") || strings.HasPrefix(name, "metropolis.") {
			continue // not a method row (package tables)
		}
		if _, dup := documented[name]; dup {
			t.Errorf("%s: %s has two rows", apiDoc, name)
		}
		documented[name] = docRow{
			needs:   strings.ReplaceAll(strings.TrimSpace(cells[2]), "`", ""),
			callers: strings.TrimSpace(cells[3]),
		}
	}
	for _, m := range fullMethods() {
		service, method, _ := strings.Cut(strings.TrimPrefix(m, "/"), "/")
		name := service[strings.LastIndex(service, ".")+1:] + "." + method
		a, err := authz.ForMethod(m)
		if err != nil {
			t.Fatal(err)
		}
		want := expectedRow(a)
		got, ok := documented[name]
		delete(documented, name)
		switch {
		case !ok:
			t.Errorf("%s: no row for %s; add: | `%s` | %s | %s | ... |", apiDoc, name, name, docNeeds(want.needs), want.callers)
		case got != want:
			t.Errorf("%s: row for %s says needs %q, callers %q; the declaration means needs %q, callers %q",
				apiDoc, name, got.needs, got.callers, want.needs, want.callers)
		}
	}
	for name := range documented {
		t.Errorf("%s: row for %s, which is not a method of any Metropolis service", apiDoc, name)
	}
}

// expectedRow is how the method table writes a declaration: "open" for anyone, else the
// permissions and the kinds that hold all of them.
func expectedRow(a *authz.Authorization) docRow {
	if a.GetAllowUnauthenticated() {
		return docRow{needs: "open", callers: "anyone"}
	}
	var needs []string
	for _, p := range a.GetNeed() {
		needs = append(needs, p.String())
	}
	var callers []string
	for _, k := range []authz.Kind{authz.KindOwner, authz.KindNode} {
		holdsAll := true
		for _, p := range a.GetNeed() {
			holdsAll = holdsAll && authz.Granted(k, p)
		}
		if holdsAll {
			callers = append(callers, k.String())
		}
	}
	sort.Strings(callers)
	if len(callers) == 0 {
		callers = []string{"nobody"}
	}
	return docRow{needs: strings.Join(needs, ", "), callers: strings.Join(callers, ", ")}
}

// docNeeds writes a needs cell as the page does: permissions in backticks, "open" plain.
func docNeeds(needs string) string {
	if needs == "open" {
		return needs
	}
	return "`" + strings.ReplaceAll(needs, ", ", "`, `") + "`"
}

// TestAPIDocGrantTableMatchesGranted compares the grant table of docs/api.md (rows whose first
// cell is `PERMISSION_...`, then "yes"/"no" for owner and node) with Granted.
func TestAPIDocGrantTableMatchesGranted(t *testing.T) {
	text, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatalf("read %s: %v", apiDoc, err)
	}
	rows := make(map[string][]string)
	for _, line := range strings.Split(string(text), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`PERMISSION_") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = []string{strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])}
	}
	yesNo := map[bool]string{true: "yes", false: "no"}
	for number, name := range authz.Permission_name {
		p := authz.Permission(number)
		if p == authz.Permission_PERMISSION_UNSPECIFIED {
			continue
		}
		want := []string{yesNo[authz.Granted(authz.KindOwner, p)], yesNo[authz.Granted(authz.KindNode, p)]}
		got, ok := rows[name]
		delete(rows, name)
		switch {
		case !ok:
			t.Errorf("%s: grant table has no row for %s; add: | `%s` | %s | %s |", apiDoc, name, name, want[0], want[1])
		case got[0] != want[0] || got[1] != want[1]:
			t.Errorf("%s: grant table says %s is owner %q, node %q; Granted says owner %q, node %q", apiDoc, name, got[0], got[1], want[0], want[1])
		}
	}
	for name := range rows {
		t.Errorf("%s: grant table row for %s, which is not a permission", apiDoc, name)
	}
}
