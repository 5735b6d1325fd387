// Command standin is the scale lab's `cilium-dbg` (and `cilium`): kwok runs
// it as a local process for every exec into a Cilium agent pod. Cilium
// cannot run here, so it prints recorded outputs instead of asking an
// agent: files that `benchctl fixtures` prepared in $KPR_BENCH_DATA from
// the real-code fixtures (see that command for their provenance). It is
// deliberately cheap, so that the benchmark measures kpr and the API
// server, not the stand-in.
//
// Hanging agents: kwok's ClusterExec sets KPR_BENCH_HANG_GROUP=1 for the
// agents picked to hang; they hang only while $KPR_BENCH_DATA/hang exists,
// so the same lab serves the normal runs and the hang run.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:]))
}

func run(name string, args []string) int {
	if code, ok := nodeTool(name, args); ok {
		return code
	}
	dir := os.Getenv("KPR_BENCH_DATA")
	if dir == "" {
		fmt.Fprintf(os.Stderr, "%s: KPR_BENCH_DATA is not set (the scale lab's ClusterExec sets it)\n", name)
		return 2
	}
	if os.Getenv("KPR_BENCH_HANG_GROUP") == "1" {
		if _, err := os.Stat(filepath.Join(dir, "hang")); err == nil {
			// A stuck agent: no output until the client gives up. Bounded,
			// so a forgotten exec cannot outlive the lab by much.
			time.Sleep(2 * time.Minute)
			return 1
		}
	}
	file := outputFile(args)
	if file == "" {
		fmt.Fprintf(os.Stderr, "%s: the bench stand-in answers only `status [-o json] [--verbose]` and `service list [-o json]`, not %q\n", name, strings.Join(args, " "))
		return 2
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	_, _ = os.Stdout.Write(b)
	return 0
}

// outputFile maps a command line to the recorded output it prints.
func outputFile(args []string) string {
	json, verbose := false, false
	var words []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			json = args[i+1] == "json"
			i++
		case a == "-ojson" || a == "--output=json" || a == "-o=json":
			json = true
		case a == "--verbose" || a == "-v":
			verbose = true
		case strings.HasPrefix(a, "-"):
		default:
			words = append(words, a)
		}
	}
	switch strings.Join(words, " ") {
	case "status":
		switch {
		case json:
			return "status.json"
		case verbose:
			return "status-verbose.txt"
		}
		return "status.txt"
	case "service list":
		if json {
			return "service-list.json"
		}
		return "service-list.txt"
	}
	return ""
}
