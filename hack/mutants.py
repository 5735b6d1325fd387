#!/usr/bin/env python3
"""Seeds deliberate logic changes (mutants) into kpr's engine and judging
code, one at a time, and checks that the unit tests catch each: a mutant
that survives marks a test that is missing. Usage: python3 hack/mutants.py
(from the repository root; restores every file, also on Ctrl-C)."""
import subprocess, sys

PKGS = ["./pkg/verify/", "./pkg/nodecheck/", "./pkg/interpret/acceptance/", "./pkg/interpret/inspect/",
        "./pkg/interpret/nodeconfig/", "./pkg/collect/", "./pkg/interpret/report/"]

MUTANTS = [
    ("flipped peer preference", "pkg/interpret/acceptance/plan.go",
     "(nodes[n].Clean && !nodes[best].Clean)", "(!nodes[n].Clean && nodes[best].Clean)"),
    ("dropped peer of the none class", "pkg/interpret/acceptance/plan.go",
     'if n == from || nodes[n].InternalIP == "" {', 'if n == from || nodes[n].InternalIP == "" || cl.Name == "none" {'),
    ("wrong class", "pkg/verify/verify.go",
     "r.classOf[n.Name] = string(n.ServicesBy)", 'r.classOf[n.Name] = "cilium"'),
    ("SamePort negated", "pkg/interpret/acceptance/plan.go",
     "return name == t.PortName ||", "return name != t.PortName ||"),
    ("missing frontend counted as found", "pkg/interpret/acceptance/plan.go",
     "if fc.Status != report.FrontendMissing {", "if fc.Status == report.FrontendMissing {"),
    ("claimed problems counted as others", "pkg/interpret/acceptance/plan.go",
     "nf.Other = len(row.Problems) - len(claimed)", "nf.Other = len(row.Problems)"),
    ("probe retry on agreement", "pkg/verify/verify.go",
     "!acceptance.Agrees(pr.Expect(class, r.opts.Strict), res.Outcome)", "acceptance.Agrees(pr.Expect(class, r.opts.Strict), res.Outcome)"),
    ("agent table never waited for", "pkg/verify/verify.go",
     "settled = settled && nf.Settled()", "settled = true"),
    ("sample takes NotReady nodes", "pkg/interpret/acceptance/plan.go",
     "return nodes[n].Linux && nodes[n].Ready", "return nodes[n].Linux"),
    ("backend on a NotReady node", "pkg/interpret/acceptance/plan.go",
     "if nf := nodes[n]; nf.Ready && nf.Linux && (nf.Clean || !clean) {", "if nf := nodes[n]; nf.Linux && (nf.Clean || !clean) {"),
    ("socket-LB claimed for peers without agent", "pkg/interpret/acceptance/plan.go",
     "ClientSocketLB: clientSocketLB && pe.CiliumAgent", "ClientSocketLB: clientSocketLB"),
    ("socket-LB without NodePort", "pkg/interpret/acceptance/expect.go",
     "k.NodePort != nil && *k.NodePort", "k.NodePort != nil"),
    ("a failed check passes the run", "pkg/interpret/acceptance/evaluate.go",
     "if s.Fail > 0 {\n\t\ts.Result = report.ResultFail", "if s.Fail > 1 {\n\t\ts.Result = report.ResultFail"),
    ("nft listing counted twice", "pkg/interpret/inspect/node.go",
     "parts = append(parts, &netfilter.Summary{KubeProxyNFTables: sum.KubeProxyNFTables, Dumps: sum.Dumps})", "parts = append(parts, sum)"),
    ("KPR level from config over the agent", "pkg/interpret/inspect/node.go",
     'if agentLevel != "" {', 'if agentLevel == "" {'),
    ("agent table dropped from judging", "pkg/verify/verify.go",
     "in.Frontends, in.OtherProblems, in.AgentTableErr = f.Targets, f.Other, f.Err", "in.OtherProblems, in.AgentTableErr = f.Other, f.Err"),
    ("rules not read", "pkg/nodecheck/runner.go",
     "\t\tif w.ReadRules {\n\t\t\td, err", "\t\tif !w.ReadRules {\n\t\t\td, err"),
    ("endpoints ignored", "pkg/verify/verify.go",
     "\t\t\tt.EndpointNodes[n] = true\n", ""),
    ("node failure not reported", "pkg/verify/verify.go",
     "\t\t\tr.res.Errors = append(r.res.Errors, ne)\n", ""),
    ("benign iptables failure reported", "pkg/interpret/inspect/node.go",
     '!benignIPTablesFailure(s)', 'true'),
    # Per-node configuration (issue 20).
    ("older changes reported as not applied", "pkg/interpret/nodeconfig/changes.go",
     "c.At.After(podStart)", "!c.At.After(podStart)"),
    ("ignored CiliumNodeConfigs not reported", "pkg/interpret/nodeconfig/judge.go",
     'if why := f.Setup.IgnoresNodeConfigs(); why != "" {', 'if why := f.Setup.IgnoresNodeConfigs(); why == "x" {'),
    ("rules left behind not judged", "pkg/interpret/nodeconfig/rollout.go",
     "case f.KubeRules == Yes && f.KubeProxyPod == No:", "case f.KubeRules == Yes && f.KubeProxyPod == Yes:"),
    ("healthz listeners never overlap", "pkg/interpret/nodeconfig/rollout.go",
     "return ha.Unmap() == hb.Unmap()", "return false"),
    ("agent's config dir never read", "pkg/collect/status.go",
     "if perNode.Involves(nodes[i]) {", "if false && perNode.Involves(nodes[i]) {"),
    # Service behaviours and servedBy (issue 21).
    ("empty kube-proxy node must answer ETP Local", "pkg/interpret/acceptance/behaviours.go",
     'return mustNot("externalTrafficPolicy=Local: " + s.Name + " has no local backend, so kube-proxy',
     'return must("externalTrafficPolicy=Local: " + s.Name + " has no local backend, so kube-proxy'),
    ("every address a NodePort address", "pkg/interpret/acceptance/behaviours.go",
     "if hasString(s.NodePortAddrs, addr) {", "if true {"),
    ("every device address a NodePort address", "pkg/interpret/report/kpr.go",
     "case slices.Contains(v4, internalIP):", "case len(v4) > 0:\n\t\t\tout = append(out, v4...)\n\t\tcase false:"),
    ("portmap never seen", "pkg/verify/behaviours.go",
     'if dp.HostPortBy == "" && d.HasPortmap() {', "if false {"),
    ("kube-proxy's counters never read", "pkg/nodecheck/served.go",
     'return pf.KubeProxy && pf.KubeProxyMode == "iptables" && pf.SocketLB', "return false"),
    ("affinity across backends accepted", "pkg/interpret/acceptance/behaviours.go",
     "case len(p.Backends) > 1:", "case len(p.Backends) > 2:"),
    ("socket-LB served though kube-proxy counted", "pkg/interpret/acceptance/servedby.go",
     "if f.CountersRead && len(f.Moved) > 0 {", "if f.CountersRead && len(f.Moved) > 9 {"),
]

def run_tests():
    r = subprocess.run(["go", "test", "-count=1", "-failfast"] + PKGS, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr

def main():
    code, out = run_tests()
    if code != 0:
        print("the tests fail without mutants:\n" + out)
        return 1
    survived = 0
    for name, path, old, new in MUTANTS:
        orig = open(path).read()
        if orig.count(old) != 1:
            print(f"SKIP  {name}: pattern not found once in {path}")
            survived += 1
            continue
        try:
            open(path, "w").write(orig.replace(old, new))
            code, out = run_tests()
        finally:
            open(path, "w").write(orig)
        if code == 0:
            survived += 1
            print(f"ALIVE {name} ({path})")
        else:
            failed = [l.split()[2] for l in out.splitlines() if l.startswith("--- FAIL")]
            print(f"KILLED {name} ({path}) by {', '.join(failed[:3]) or 'build failure'}")
    print(f"{len(MUTANTS) - survived} of {len(MUTANTS)} mutants killed")
    return 1 if survived else 0

if __name__ == "__main__":
    sys.exit(main())
