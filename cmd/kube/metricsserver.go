package main

import (
	"fmt"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/version"
	"k8s.io/kube-openapi/pkg/common"
	openapiutil "k8s.io/kube-openapi/pkg/util"
	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"
)

// newMetricsServerCommand is upstream metrics-server's command (app.NewMetricsServerCommand),
// with one change its release needs to run against the Kubernetes libraries the rest of this
// binary is built with: metrics-server v0.8.0's generated OpenAPI definitions are keyed by Go
// type path ("k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics"), while these libraries'
// types name their models in REST form ("io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics",
// their OpenAPIModelName methods), so upstream's command stops at start with "cannot find
// model definition". The definitions are offered under both names.
func newMetricsServerCommand(stop <-chan struct{}) *cobra.Command {
	opts := options.NewOptions()
	cmd := &cobra.Command{
		Use:          "metrics-server",
		Short:        "the resource metrics API (metrics.k8s.io) from the kubelets' figures",
		SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			if opts.ShowVersion {
				fmt.Println(version.Get().GitVersion)
				return nil
			}
			if errs := opts.Validate(); len(errs) > 0 {
				return errs[0]
			}
			config, err := opts.ServerConfig()
			if err != nil {
				return err
			}
			api := config.Apiserver
			api.OpenAPIConfig.GetDefinitions = withModelNames(api.OpenAPIConfig.GetDefinitions)
			api.OpenAPIV3Config.GetDefinitions = withModelNames(api.OpenAPIV3Config.GetDefinitions)
			addModelNames(api.OpenAPIV3Config.Definitions) // computed once already, by DefaultOpenAPIV3Config
			server, err := config.Complete()
			if err != nil {
				return err
			}
			return server.RunUntil(stop)
		},
	}
	for _, fs := range opts.Flags().FlagSets {
		cmd.Flags().AddFlagSet(fs)
	}
	return cmd
}

// withModelNames offers every definition get returns also under its REST-friendly model name.
func withModelNames(get common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		defs := get(ref)
		addModelNames(defs)
		return defs
	}
}

// addModelNames adds to defs every definition under its REST-friendly model name too.
func addModelNames(defs map[string]common.OpenAPIDefinition) {
	renamed := make(map[string]common.OpenAPIDefinition, len(defs))
	for name, def := range defs {
		if model := openapiutil.ToRESTFriendlyName(name); model != name {
			if _, taken := defs[model]; !taken {
				renamed[model] = def
			}
		}
	}
	for name, def := range renamed {
		defs[name] = def
	}
}

// metricsServer runs newMetricsServerCommand until SIGTERM or SIGINT.
func metricsServer() *cobra.Command {
	return newMetricsServerCommand(genericapiserver.SetupSignalHandler())
}
