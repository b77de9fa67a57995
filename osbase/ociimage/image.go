package ociimage

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// Image is what Write puts into an archive: one linux/amd64 image with one layer.
type Image struct {
	// Name is the full reference containerd will know the image by, with a registry host
	// and a tag, e.g. "metropolis.dev/pause:v1". Short names ("pause:v1") are refused:
	// containerd and Kubernetes would expand them to docker.io/library/...
	Name string
	// Files are the image's only content (parent directories are added).
	Files []File
	// Entrypoint, Cmd, Env and WorkingDir are the OCI image config's fields.
	Entrypoint []string
	Cmd        []string
	Env        []string // NAME=value
	WorkingDir string
	// User is numeric ("65534" or "65534:65534"): the images hold no /etc/passwd to resolve
	// a name. Empty means root.
	User string
}

// File is one regular file in the image's layer.
type File struct {
	// Path is the absolute, clean path in the image, e.g. "/pause".
	Path string
	// Mode holds the permission bits only, e.g. 0o755 for a binary.
	Mode fs.FileMode
	// HostPath is a file on this machine to copy in. When empty, Data is the content.
	HostPath string
	Data     []byte
}

var numericUser = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)

// parseName checks that name is a full, tagged reference and returns its tag.
func parseName(name string) (tag string, err error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", name, err)
	}
	if named.String() != name {
		return "", fmt.Errorf("image name %q is not a full reference (containerd would call it %q)", name, named.String())
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("image name %q carries a digest; give a tag only", name)
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return "", fmt.Errorf("image name %q has no tag", name)
	}
	return tagged.Tag(), nil
}

// check validates everything about img that does not need the file system.
func (img *Image) check() error {
	if _, err := parseName(img.Name); err != nil {
		return err
	}
	if img.User != "" && !numericUser.MatchString(img.User) {
		return fmt.Errorf("image %s: user %q is not numeric (uid or uid:gid)", img.Name, img.User)
	}
	if img.WorkingDir != "" && !path.IsAbs(img.WorkingDir) {
		return fmt.Errorf("image %s: working directory %q is not absolute", img.Name, img.WorkingDir)
	}
	for _, e := range img.Env {
		if name, _, ok := strings.Cut(e, "="); !ok || name == "" {
			return fmt.Errorf("image %s: environment entry %q is not NAME=value", img.Name, e)
		}
	}
	if len(img.Files) == 0 {
		return fmt.Errorf("image %s: no files", img.Name)
	}
	seen := make(map[string]bool)
	for _, f := range img.Files {
		if err := f.check(); err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
		if seen[f.Path] {
			return fmt.Errorf("image %s: file %s given twice", img.Name, f.Path)
		}
		seen[f.Path] = true
	}
	// A file cannot also be a directory holding another file.
	for _, f := range img.Files {
		for dir := path.Dir(f.Path); dir != "/"; dir = path.Dir(dir) {
			if seen[dir] {
				return fmt.Errorf("image %s: %s is a file but %s is inside it", img.Name, dir, f.Path)
			}
		}
	}
	return nil
}

func (f *File) check() error {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
		return fmt.Errorf("file path %q is not an absolute, clean path below /", f.Path)
	}
	if f.Mode&^fs.ModePerm != 0 {
		return fmt.Errorf("file %s: mode %v has bits beyond the permissions", f.Path, f.Mode)
	}
	if f.HostPath != "" && f.Data != nil {
		return fmt.Errorf("file %s: both HostPath and Data given", f.Path)
	}
	return nil
}
