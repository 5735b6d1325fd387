// Command kubectl-kpr is the kubectl plugin "kubectl kpr": it tells, node by
// node, who implements Kubernetes Services (Cilium KPR, kube-proxy or nobody).
package main

import (
	"os"

	// Cloud auth providers (exec, oidc, ...) as every kubectl plugin should.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/cmd"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cmd.Execute(streams, os.Args[1:]))
}
