package netns

import (
	"errors"
	"fmt"
)

// DestroyByName removes everything named after network name from the host: the nodes' links,
// the bridge and the nodes' namespaces. It finds them by name alone, so it cleans up after a
// launcher that crashed, and it is idempotent: what is already gone is no error. Processes still
// running in a node's namespace keep it alive (without its links) until they exit; stop them
// first.
func DestroyByName(name string) error {
	// A valid name also guarantees that the prefix match below cannot catch anything else.
	if err := validateName(name); err != nil {
		return fmt.Errorf("destroy network: %w", err)
	}
	var errs []error
	links, err := listLinks(name)
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		errs = append(errs, deleteLink(l))
	}
	namespaces, err := listNamespaces(name)
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range namespaces {
		errs = append(errs, deleteNamespace(ns))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy network %s: %w", name, err)
	}
	return nil
}
