// Command kpr-lab-node runs inside a lab node's namespaces. It is one binary
// with several faces, chosen by the name it is called by:
//
//   - cilium-dbg / cilium: a stand-in for the Cilium agent CLI. It answers
//     `status [-o json] [--verbose]`, `service list [-o json]` and
//     `version [-o json]` as the node's Cilium release prints them
//     (KPR_LAB_CILIUM_VERSION: 1.12.19, 1.14.19, 1.16.19, 1.18.8 or 1.20.2;
//     before 1.15 only `cilium` exists), in the kube-proxy-replacement mode
//     KPR_LAB_CILIUM_KPR_MODE says. The contents are computed at exec time
//     from the node's real interfaces and the cluster's real Services and
//     EndpointSlices; the printing is done by that release's renderer,
//     cilium-render/<version> next to this binary, built from the release's
//     own code (lab/standin/releases; see cilium.go). This module does not
//     import Cilium.
//   - kpr-lab-node datapath: a stand-in for Cilium's eBPF service datapath:
//     keeps an nft table of DNAT rules (never named like kube-proxy's) in
//     step with the Services and EndpointSlices.
//   - kpr-lab-node httpd: the backends' HTTP server.
//   - kpr-lab-node pods: the pod-network pods' bodies (pod IP on lo, HTTP on
//     their container ports), for the backends kpr verify deploys.
//   - kpr-lab-node agent-pod [--watch]: the UID of the node's live Cilium
//     agent pod (node-init.sh restarts a real agent when it changes).
//
// Environment (set by lab/node-init.sh for kwok, which passes it on to the
// commands it execs): KPR_LAB_NODE (node name), KPR_LAB_KUBECONFIG. kwok's
// ClusterExec (lab.sh kwok_execs) sets, per node, KPR_LAB_CONTAINER=
// cilium-agent only for the cilium-agent container, so other containers on
// a Cilium node do not have the Cilium CLI, as on a real node, and
// KPR_LAB_CILIUM_VERSION / KPR_LAB_CILIUM_KPR_MODE for the agent.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:]))
}

func run(name string, args []string) int {
	switch name {
	case "cilium-dbg", "cilium":
		if os.Getenv("KPR_LAB_CONTAINER") != "cilium-agent" {
			return notFound(name)
		}
		return ciliumCLI(name, args)
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: kpr-lab-node datapath|httpd|pods|agent-pod|render-nft|cilium-dbg ...")
		return 2
	}
	switch args[0] {
	case "datapath":
		return runDatapath(args[1:])
	case "render-nft":
		return renderNftOnce(args[1:])
	case "httpd":
		return runHTTPD(args[1:])
	case "pods":
		return runPods(args[1:])
	case "agent-pod":
		return runAgentPod(args[1:])
	case "cilium-dbg", "cilium":
		return run(args[0], args[1:])
	}
	fmt.Fprintf(os.Stderr, "kpr-lab-node: unknown command %q\n", args[0])
	return 2
}

// notFound prints what kwok says when the command is not on the PATH.
func notFound(name string) int {
	fmt.Fprintf(os.Stderr, "exec: %q: executable file not found in $PATH\n", name)
	return 127
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
