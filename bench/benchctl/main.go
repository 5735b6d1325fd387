// Command benchctl does the scale benchmark's chores that a shell script
// would do badly: create N nodes and the Cilium/kube-proxy objects
// concurrently, wait for them, prepare the stand-in's outputs, generate the
// sysdump-like folder, time the commands and print the table.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "setup":
		err = cmdSetup(args)
	case "fixtures":
		err = cmdFixtures(args)
	case "run":
		err = cmdRun(args)
	case "table":
		err = cmdTable(args)
	case "gen-sysdump":
		err = cmdGenSysdump(args)
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchctl:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: benchctl setup|fixtures|run|table|gen-sysdump [flags]
  setup        create N kwok nodes, the cilium/kube-proxy DaemonSets, ConfigMaps and Services; wait until all agents run
  fixtures     write the stand-in cilium-dbg's outputs from the real-code fixtures
  run          time the benchmark cases at one N and write a results JSON
  table        print the markdown table (and the target checks) from results JSONs
  gen-sysdump  write a sysdump-like folder of a given size for 'kubectl kpr analyze'`)
}
