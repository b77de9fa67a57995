package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// editorArgv is the command line that opens path in the operator's editor, and the editor as
// the operator named it: $VISUAL, else $EDITOR, else vi (notepad on Windows). Elsewhere than
// on Windows, sh reads the variable, as git and kubectl do, so it may hold arguments
// ("code --wait") and quoting. Windows has no sh: there the variable is a program and
// arguments separated by spaces, the program in double quotes if its path has spaces.
func editorArgv(getenv func(string) string, goos, path string) (argv []string, editor string) {
	editor = strings.TrimSpace(getenv("VISUAL"))
	if editor == "" {
		editor = strings.TrimSpace(getenv("EDITOR"))
	}
	if goos != "windows" {
		if editor == "" {
			editor = "vi"
		}
		return []string{"sh", "-c", editor + ` "$@"`, "sh", path}, editor
	}
	if editor == "" {
		return []string{"notepad", path}, "notepad"
	}
	if quoted, ok := strings.CutPrefix(editor, `"`); ok {
		program, rest, _ := strings.Cut(quoted, `"`)
		argv = append([]string{program}, strings.Fields(rest)...)
	} else {
		argv = strings.Fields(editor)
	}
	return append(argv, path), editor
}

// editText writes text to a new temporary file named after pattern (as os.CreateTemp),
// opens it in the operator's editor on the invocation's terminal and returns the file's path
// and what it holds when the editor exits. The caller removes the file. An editor failing
// is an error, and the file is removed then.
func (s *session) editText(ctx context.Context, goos, pattern string, text []byte) (string, []byte, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", nil, fmt.Errorf("create a file to edit: %w", err)
	}
	path := f.Name()
	_, err = f.Write(text)
	// Closed before the editor opens it: Windows editors cannot open a file held open.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", nil, fmt.Errorf("write %s: %w", path, err)
	}
	argv, editor := editorArgv(s.app.Getenv, goos, path)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.app.Stdin, s.app.Stdout, s.app.Stderr
	if err := cmd.Run(); err != nil {
		os.Remove(path)
		return "", nil, fmt.Errorf("editor %.80q: %w; nothing was changed", editor, err)
	}
	edited, err := os.ReadFile(path)
	if err != nil {
		os.Remove(path)
		return "", nil, fmt.Errorf("read the edited file: %w", err)
	}
	return path, edited, nil
}
