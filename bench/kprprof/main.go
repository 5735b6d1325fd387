// Command kprprof is kubectl-kpr with pprof profiles, for finding where a
// benchmark's time goes without adding profiling flags to the shipped
// binary. Same command tree and arguments as kubectl-kpr:
//
//	kprprof -cpu cpu.pprof -mem heap.pprof -- status -o json
//	go tool pprof -top kprprof cpu.pprof
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/cmd"
)

func main() {
	cpu := flag.String("cpu", "", "write a CPU profile here")
	mem := flag.String("mem", "", "write a heap profile (all allocations) here")
	flag.Parse()
	if *mem != "" {
		runtime.MemProfileRate = 4096
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
	}
	code := cmd.Execute(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, flag.Args())
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *mem != "" {
		if f, err := os.Create(*mem); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}
