// etcd for the kpr lab: the same entry point as etcd's own main.go
// (go.etcd.io/etcd/v3), built from the module proxy at a pinned version
// because Debian's etcd-server is older than Kubernetes 1.37 wants.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
