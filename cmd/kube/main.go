// Command kube is upstream Kubernetes as one multicall binary shipped next to the node program
// (apiserver, controller-manager, scheduler and kubelet, metrics-server for the resource metrics
// API behind `kubectl top` and CPU autoscaling, plus kubectl for operators and tests):
// `kube COMPONENT [flags]` runs the component's own upstream command (cobra, flags, logging) and
// nothing else. node/kubernetes starts each component as a separate child process of this binary,
// so a component restarts alone and the once-per-process setup in the upstream commands (signal
// handler, logging configuration) is never done twice. Invoked through a symlink named after a
// component (kubectl -> kube), it runs that component.
//
// This is the only package of the node that imports k8s.io/kubernetes: everything else talks to
// the components over their flags, files and HTTPS, so the rest of the test suite does not link
// this 200 MB binary. Build it with the version stamped in (scripts/launch does):
//
//	go build -trimpath -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2
//	  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37' ./cmd/kube
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	_ "time/tzdata" // CronJob time zones (upstream apiserver and controller-manager do the same)

	"github.com/spf13/cobra"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's client auth plugins
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// components maps a component name (the first argument, or the name the binary was invoked by)
// to the function running it with os.Args already rewritten to [name, flags...].
var components = map[string]func() int{
	"apiserver":          runCobra(apiserver.NewAPIServerCommand),
	"controller-manager": runCobra(controllermanager.NewControllerManagerCommand),
	"scheduler":          runCobra(func() *cobra.Command { return scheduler.NewSchedulerCommand() }),
	"kubelet":            runCobra(func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) }),
	"kubectl":            runKubectl,
	"metrics-server":     runCobra(metricsServer),
}

func runCobra(newCommand func() *cobra.Command) func() int {
	return func() int { return cli.Run(newCommand()) }
}

// runKubectl is upstream cmd/kubectl's main: kubectl reads os.Args itself (plugins, .kuberc).
func runKubectl() int {
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) //nolint:errcheck // as upstream
	if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
		kubectlutil.CheckErr(err) // prints and exits non-zero
	}
	return 0
}

// hostnameEnv, if set, is the host name the component gets (in the UTS namespace of its own
// that node/kubernetes starts it in). The apiserver derives its identity lease from the host
// name, so controllers sharing one (hosted nodes on one machine) would fight over one lease.
const hostnameEnv = "METROPOLIS_KUBE_HOSTNAME"

func main() {
	if h := os.Getenv(hostnameEnv); h != "" {
		if err := syscall.Sethostname([]byte(h)); err != nil {
			fmt.Fprintf(os.Stderr, "kube: set host name %q from $%s (needs a UTS namespace of its own): %v\n", h, hostnameEnv, err)
			os.Exit(1)
		}
	}
	name := filepath.Base(os.Args[0])
	if _, ok := components[name]; !ok {
		if len(os.Args) < 2 {
			usage()
		}
		name = os.Args[1]
		os.Args = os.Args[1:] // the upstream commands see [COMPONENT, flags...]
	}
	run, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kube: unknown component %q\n", name)
		usage()
	}
	forgetExecutable(name)
	os.Exit(run())
}

func usage() {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: kube %s [flags]\n", strings.Join(names, "|"))
	os.Exit(2)
}
