// Command coredns is upstream CoreDNS with only the plugins the local test cluster's DNS
// needs (the way CoreDNS documents building a custom server: set dnsserver.Directives and
// import the plugins). No forward plugin: names outside cluster.local are never sent to any
// other server, so pod DNS traffic stays on this machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The subset of CoreDNS's plugin.cfg, in its order (the order plugins run in).
var directives = []string{"bind", "ready", "errors", "log", "loadbalance", "cache", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
