package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
)

// ProbeFlags are the flags of the commands that probe Services from nodes
// (probe, diff, verify).
type ProbeFlags struct {
	HTTP         bool
	ProbeTimeout time.Duration
}

func defaultProbeFlags() ProbeFlags { return ProbeFlags{ProbeTimeout: probe.DefaultTimeout} }

// AddFlags registers the flags on fs.
func (f *ProbeFlags) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.HTTP, "http", f.HTTP, "HTTP GET instead of a TCP connect (records the status code)")
	fs.DurationVar(&f.ProbeTimeout, "probe-timeout", f.ProbeTimeout, "Timeout of each probe")
}

// Validate checks the values.
func (f *ProbeFlags) Validate() error {
	if f.ProbeTimeout <= 0 {
		return fmt.Errorf("--probe-timeout must be positive, got %s", f.ProbeTimeout)
	}
	return nil
}

// Options are the probe options the flags select.
func (f *ProbeFlags) Options() probe.Options {
	return probe.Options{HTTP: f.HTTP, Timeout: f.ProbeTimeout}
}

// validateNodeChecks is the common tail of Validate for the commands that
// probe from debug pods (probe, diff, verify): the probe and debug-pod
// flags, and --color.
func validateNodeChecks(root *RootOptions, probes *ProbeFlags, pods *DebugPodFlags) error {
	if err := probes.Validate(); err != nil {
		return err
	}
	if err := pods.Validate(); err != nil {
		return err
	}
	_, err := root.Palette()
	return err
}

// validateServiceRefs checks --service values: NAMESPACE/NAME each.
func validateServiceRefs(refs []string) error {
	for _, s := range refs {
		if ns, name, ok := strings.Cut(s, "/"); !ok || ns == "" || name == "" {
			return fmt.Errorf("--service %q: want NAMESPACE/NAME", s)
		}
	}
	return nil
}
