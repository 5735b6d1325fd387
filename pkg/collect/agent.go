package collect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// agentCommands lists the ways to ask a Cilium agent for one thing, in the
// order they are tried: JSON first (exact, and the only form with names
// and protocols), then text; cilium-dbg from 1.15 on, cilium before (new
// images keep a cilium symlink, old ones have no cilium-dbg).
func agentCommands(preferOld bool, args ...string) [][]string {
	dbg, old := "cilium-dbg", "cilium"
	if preferOld {
		dbg, old = old, dbg
	}
	withJSON := append(append([]string{}, args...), "-o", "json")
	return [][]string{
		append([]string{dbg}, withJSON...),
		append([]string{old}, withJSON...),
		append([]string{dbg}, args...),
		append([]string{old}, args...),
	}
}

// runAgentCommand execs agentCommands(args) into one agent until parse
// accepts an output. A missing binary moves on to the next command; probe
// remembers it across agents so that the others try the binary that exists
// first, but still try the missing one last (one broken or older agent
// must not make kpr skip a binary on every node); a transport, RBAC or timeout error
// ends the agent at once, since another command would not fare better.
// Unparsable output is kept in the error, with the exit code and stderr.
func runAgentCommand[T any](ctx context.Context, ex Executor, a AgentPod, preferOld bool, probe *binaryProbe, args []string, parse func(ExecResult) (T, error)) (T, string, error) {
	var zero T
	var errs []string
	cmds := agentCommands(preferOld, args...)
	if probe != nil {
		// Stable: known-missing binaries go last, the order stays otherwise.
		sort.SliceStable(cmds, func(i, j int) bool { return !probe.knownMissing(cmds[i][0]) && probe.knownMissing(cmds[j][0]) })
	}
	missingHere := map[string]bool{}
	for _, cmd := range cmds {
		if missingHere[cmd[0]] {
			continue
		}
		source := strings.Join(cmd, " ")
		res, err := ex.Exec(ctx, a.Namespace, a.Name, a.Container, cmd)
		if IsCommandNotFound(res, err) {
			errs = append(errs, cmd[0]+": not found")
			missingHere[cmd[0]] = true
			// Only remember "missing" across agents when it is certain.
			if probe != nil && err == nil {
				probe.markMissing(cmd[0])
			}
			continue
		}
		if err != nil {
			return zero, source, ExplainExecError(err, a.Namespace, a.Name)
		}
		v, perr := parse(res)
		if perr == nil {
			return v, source, nil
		}
		msg := fmt.Sprintf("%s: %v", source, perr)
		if res.ExitCode != 0 {
			msg += fmt.Sprintf(" (exit %d: %s)", res.ExitCode, textutil.FirstLine(strings.TrimSpace(string(res.Stderr))))
		}
		errs = append(errs, msg)
	}
	if len(errs) == 0 {
		errs = append(errs, "no "+strings.Join(args, " ")+" command could be run")
	}
	return zero, "", errors.New(strings.Join(errs, "; "))
}
