// Command kubectl is upstream kubectl (k8s.io/kubectl, pinned in go.mod),
// built from the Go module proxy so CI can exercise kubectl's own plugin
// discovery and plugin completion without a downloaded binary. It mirrors
// k8s.io/kubernetes cmd/kubectl/kubectl.go.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	// Client auth plugins, as the real kubectl has them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
