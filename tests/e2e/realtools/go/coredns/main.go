// Command coredns is upstream CoreDNS with the plugins of the Corefile that minikube v1.37.0
// writes (kubeadm's default plus log and hosts: log, errors, health, ready, kubernetes,
// prometheus, hosts, forward, cache, loop, reload, loadbalance), built the way CoreDNS
// documents a custom server: set dnsserver.Directives and import the plugins. The local
// cluster's own build (tests/e2e/localcluster/go/coredns) has fewer, and no forward; minikube's
// Corefile names every directive here, and CoreDNS refuses a Corefile with an unknown one
// ("Unknown directive 'health'").
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// The subset of CoreDNS's plugin.cfg (v1.12.4), in its order (the order plugins run in).
var directives = []string{"reload", "bind", "ready", "health", "prometheus", "errors", "log",
	"loadbalance", "cache", "hosts", "kubernetes", "loop", "forward"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
