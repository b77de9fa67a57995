package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"metropolis.dev/metropolis/node/kubernetes/crds"
)

const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

// installCRDs makes sure the definitions of the APIs the nodes implement
// (node/kubernetes/crds) are installed: created if missing, replaced if an
// older release's, with a compare-and-set on the installed one's
// resourceVersion so two controllers starting at once cannot undo each
// other. Anything else is left as it is, and logged through warnf.
func (a *adminClient) installCRDs(ctx context.Context, warnf func(string, ...any)) error {
	all, err := crds.All()
	if err != nil {
		return err
	}
	for _, crd := range all {
		if err := a.installCRD(ctx, crd, warnf); err != nil {
			return fmt.Errorf("install CustomResourceDefinition %s: %w", crd.Name, err)
		}
	}
	return nil
}

func (a *adminClient) installCRD(ctx context.Context, crd crds.CRD, warnf func(string, ...any)) error {
	status, body, err := a.do(ctx, http.MethodGet, crdPath+"/"+crd.Name, nil)
	if err != nil {
		return err
	}
	var installed struct {
		Metadata struct {
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	switch status {
	case http.StatusNotFound:
	case http.StatusOK:
		if err := json.Unmarshal(body, &installed); err != nil {
			return fmt.Errorf("reading the installed definition: %w", err)
		}
	default:
		return fmt.Errorf("apiserver says %d %s", status, firstLine(body))
	}
	anns := installed.Metadata.Annotations
	action, reason := crds.Decide(crd, status == http.StatusOK, anns[crds.VersionAnnotation], anns[crds.ChannelAnnotation])
	if reason != "" {
		warnf("CustomResourceDefinition %s: %s", crd.Name, reason)
	}
	switch action {
	case crds.Create:
		status, body, err = a.do(ctx, http.MethodPost, crdPath, crd.JSON)
	case crds.Replace:
		var obj map[string]any
		if err := json.Unmarshal(crd.JSON, &obj); err != nil {
			return err
		}
		obj["metadata"].(map[string]any)["resourceVersion"] = installed.Metadata.ResourceVersion
		replacement, _ := json.Marshal(obj) // decoded JSON always encodes
		status, body, err = a.do(ctx, http.MethodPut, crdPath+"/"+crd.Name, replacement)
	default:
		return nil
	}
	switch {
	case err != nil:
		return err
	case status == http.StatusConflict:
		// Another controller created or replaced it in between; it is at
		// least as new as what this one read.
		return nil
	case status != http.StatusOK && status != http.StatusCreated:
		return fmt.Errorf("apiserver says %d %s", status, firstLine(body))
	}
	return nil
}
