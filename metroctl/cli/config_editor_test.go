package cli

import (
	"slices"
	"testing"
)

func TestEditorArgv(t *testing.T) {
	for _, tc := range []struct {
		name          string
		visual, editr string
		goos          string
		want          []string
	}{
		{"vi without either variable", "", "", "linux", []string{"sh", "-c", `vi "$@"`, "sh", "/tmp/f"}},
		{"EDITOR with arguments goes to sh", "", "code --wait", "darwin", []string{"sh", "-c", `code --wait "$@"`, "sh", "/tmp/f"}},
		{"VISUAL wins over EDITOR", "emacs", "nano", "linux", []string{"sh", "-c", `emacs "$@"`, "sh", "/tmp/f"}},
		{"notepad on Windows", "", "", "windows", []string{"notepad", "/tmp/f"}},
		{"Windows splits at spaces", "", "notepad++ -multiInst", "windows", []string{"notepad++", "-multiInst", "/tmp/f"}},
		{"Windows keeps a quoted program path", "", `"C:\Program Files\Vim\vim.exe" -n`, "windows", []string{`C:\Program Files\Vim\vim.exe`, "-n", "/tmp/f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"VISUAL": tc.visual, "EDITOR": tc.editr}
			got, _ := editorArgv(func(k string) string { return env[k] }, tc.goos, "/tmp/f")
			if !slices.Equal(got, tc.want) {
				t.Errorf("argv %q, want %q", got, tc.want)
			}
		})
	}
}
