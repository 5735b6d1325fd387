// Command etcd is etcd's own main (go.etcd.io/etcd/server/v3/etcdmain), built
// in the kube module with the same dependencies as the control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
