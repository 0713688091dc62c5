// Command kube is a multi-call binary (as hyperkube was) holding the upstream
// Kubernetes components the local test cluster runs, plus etcd, kubectl and
// kubeadm (which the real minikube runs in its node).
// It dispatches on the name it is called by (a symlink: kube-apiserver, ...)
// or on its first argument (kube kube-apiserver --flags...).
//
// Every component is the upstream command, unmodified: this file only picks one.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // for CronJob time zones, as cmd/kube-apiserver does

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeadm "k8s.io/kubernetes/cmd/kubeadm/app"
	kubeadmerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-proxy":              proxy.NewProxyCommand,
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args
	if _, ok := commands[name]; !ok && name != "kubectl" && name != "etcd" && name != "kubeadm" && len(os.Args) > 1 {
		name, args = os.Args[1], os.Args[1:]
	}
	switch name {
	case "etcd":
		etcdmain.Main(args)
		return
	case "kubeadm": // minikube's bootstrapper (cmd/kubeadm/kubeadm.go)
		os.Args = args
		kubeadmerrors.HandleError(kubeadm.Run())
		return
	case "kubectl":
		os.Args = args
		logs.GlogSetter(kubectlcmd.GetLogVerbosity(args)) // nolint:errcheck
		if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		return
	}
	newCommand, ok := commands[name]
	if !ok {
		names := []string{"etcd", "kubeadm", "kubectl"}
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: kube COMPONENT [flags]  (or call it as a symlink named COMPONENT)\ncomponents: %v\n", names)
		os.Exit(2)
	}
	os.Args = args
	command := newCommand()
	command.SetArgs(args[1:])
	os.Exit(cli.Run(command))
}
