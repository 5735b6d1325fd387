#!/usr/bin/env bash
# Regenerates the example outputs in docs/commands/<command>.md (one file per
# command) from real runs against the local lab (make lab-up first), and the
# short `kubectl kpr status` excerpt in README.md from the status run. Every
# example output in the docs is what kpr printed here, not typed by hand.
# In each file only the text between its markers is replaced:
#   docs/commands/*.md  <!-- BEGIN LAB-OUTPUTS ... -->   ... <!-- END LAB-OUTPUTS -->
#   README.md           <!-- BEGIN STATUS-EXCERPT ... --> ... <!-- END STATUS-EXCERPT -->
# Usage: make readme-outputs
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBECONFIG=${KUBECONFIG:-$PWD/.lab/kubeconfig}
[ -f "$KUBECONFIG" ] || { echo "readme-outputs: no lab kubeconfig at $KUBECONFIG: run 'sudo make lab-up' first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; "$KUBECTL" delete namespace kpr-demo --ignore-not-found --wait=false >/dev/null 2>&1 || true' EXIT
source lab/build/versions.env
KUBECTL=${KUBECTL:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION/bin/kubectl}

command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
make -s build
mkdir -p "$tmp/bin" && cp bin/kubectl-kpr "$tmp/bin/"
export PATH="$tmp/bin:$PATH" NO_COLOR=1


break_demo_service() {
	# A Service the lab's Cilium stand-in misreports on purpose (lab/README.md),
	# so that `services` has something to find.
	"$KUBECTL" apply -f - >/dev/null <<-'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: kpr-demo}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: kpr-demo
  annotations: {lab.kubectl-kpr.io/standin-break: wrong-backend}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30090}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: kpr-demo
  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: kpr-readme}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: ["172.30.0.11"]
  conditions: {ready: true}
  nodeName: node-cilium
YAML
	sleep 3 # the stand-ins pick up API changes every 2 s
}

# Each example is appended to $tmp/sections/<doc>.md, <doc> being the file
# docs/commands/<doc>.md it belongs in (several examples may share one).
mkdir -p "$tmp/sections"
heading() { # heading "title" "description" "command line"
	printf '## %s\n\n' "$1"
	[ -z "$2" ] || printf '%s\n\n' "$2"
	printf '```console\n$ %s\n' "$3"
}
example() { # example DOC "title" "description" command...
	local doc=$1 title=$2 desc=$3; shift 3
	{
		heading "$title" "$desc" "$*"
		"$@" 2>&1 | sed 's/[[:space:]]*$//' || true
		printf '```\n\n'
	} >>"$tmp/sections/$doc.md"
}
pipe_example() { # like example, for a shell pipeline given as one string
	local doc=$1 title=$2 desc=$3 pipeline=$4
	{
		heading "$title" "$desc" "$pipeline"
		bash -o pipefail -c "$pipeline" 2>&1 || true
		printf '```\n\n'
	} >>"$tmp/sections/$doc.md"
}

example verify "kubectl kpr verify --deploy-backends" "The whole acceptance test in one command: status on every node, classes by \`servicesBy\`, one backend pinned to a node of each class with a NodePort Service each, the agents' service tables, then rules and ClusterIP / NodePort (node IP, 127.0.0.1, 0.0.0.0, every other node) probes from a sample of each class, each check judged by the node's class. Exit 1 here: node-stale has stale kube-proxy rules, node-both runs kube-proxy next to full KPR, and the agent on node-kpr-off (KPR False although cilium-config says true) lacks every NodePort frontend. node-bare's missing datapath and node-partial's partial KPR are warnings (\`--strict\` makes a missing datapath a failure)." \
	kubectl kpr verify --deploy-backends --seed 1
example status "kubectl kpr status" "Who implements Services on each node of the lab: one node per verdict (Cilium KPR in four releases, kube-proxy in iptables and nftables mode, both, partial, nothing), plus an agent that is not ready, an agent whose KPR is off although cilium-config asks for it, and a NotReady node. \`KPR-CONFIG\` is the kube-proxy-replacement each agent is configured with (\`(cnc)\`: from a CiliumNodeConfig, \`(node)\`: a node label or annotation); under the table, the keys per-node sources set, read from each agent's config dir: node-cilium finished the documented KPR rollout, node-stale is half done (kube-proxy's rules left behind), node-both's healthz address comes from a node annotation and clashes with kube-proxy's, a CiliumNodeConfig created after node-kpr-off's agent started waits for its restart, and node-partial's 1.12 DaemonSet ignores the CiliumNodeConfig that selects it." \
	kubectl kpr status
example status "kubectl kpr status -o wide" "Adds kernel, OS image, CNI chaining, KPR devices and taints." \
	kubectl kpr status -o wide
pipe_example status "kubectl kpr status -o json" "Machine-readable, with a stable schema (the whole document has the Cilium and kube-proxy headers too)." \
	"kubectl kpr status -o json | jq '.nodes[] | select(.name == \"node-cilium\" or .name == \"node-bare\")'"
break_demo_service
example services "kubectl kpr services" "Reconciles each agent's \`cilium-dbg service list\` with Services and EndpointSlices. Here the lab's Cilium stand-in was told to misreport kpr-demo/web's backend." \
	kubectl kpr services -A
"$KUBECTL" delete namespace kpr-demo --wait=true >/dev/null
# The kube-proxies drop kpr-demo/web's rules on their next sync: without
# this wait inspect would (rightly) call them stale on a slow node.
sleep 5
example inspect "kubectl kpr inspect" "Reads each node's real rules from a short-lived privileged host-network pod (iptables both backends and families, nft, ipvs, kube-proxy's /proxyMode)." \
	kubectl kpr inspect --all-nodes
example probe "kubectl kpr probe" "Probes ClusterIP and NodePorts from each node's own network, as the seed does by hand with curl." \
	kubectl kpr probe nm-nginx -n kube-system --all-nodes
example diff "kubectl kpr diff" "The seed's comparison in one screen: a Cilium node and a Contiv-only node side by side. \`--exit-code\` returns 1 when they differ in service handling." \
	kubectl kpr diff node-cilium node-bare
example analyze "kubectl kpr analyze" "Offline, from pasted outputs or a sysdump: here a messy ticket paste (prompts, kubectl's 'Defaulted container' line, CRLF)." \
	kubectl kpr analyze pkg/interpret/paste/testdata/ticket-crlf.txt
# A sysdump-shaped folder written from the lab (hack/lab-sysdump.sh:
# cilium-cli's file names for the cluster objects, bugtool's for the agent
# commands), analyzed offline: per-node configuration from its
# CiliumNodeConfigs and Nodes.
{
	heading "kubectl kpr analyze (a sysdump of the lab)" "Offline, from a sysdump-shaped folder taken from the lab (\`hack/lab-sysdump.sh\`: the Nodes, pods, CiliumNodeConfigs, cilium-config and the agent DaemonSets as \`cilium sysdump\` names them, and each agent's \`status --verbose\`, \`service list -o json\` and \`iptables-save -c\` as bugtool names them). Per-node configuration is resolved from the sysdump alone, so every value is computed, and each per-node warning lands on its node; kube-proxy's DaemonSet is not in a sysdump, so its nodeAffinity is unknown offline." \
		"hack/lab-sysdump.sh cilium-sysdump-lab >/dev/null 2>&1 && kubectl kpr analyze cilium-sysdump-lab"
	(cd "$tmp" && KUBECTL="$KUBECTL" "$OLDPWD/hack/lab-sysdump.sh" cilium-sysdump-lab >/dev/null 2>&1 &&
		kubectl kpr analyze cilium-sysdump-lab) 2>&1 | sed 's/[[:space:]]*$//' || true
	printf '```\n\n'
} >>"$tmp/sections/analyze.md"
example cleanup "kubectl kpr cleanup" "Deletes every debug pod kpr left anywhere (normally there are none: kpr deletes its pods on exit, on Ctrl-C and via activeDeadlineSeconds)." \
	kubectl kpr cleanup
example version "kubectl kpr version" "" kubectl kpr version

python3 - "$tmp/sections" <<'PY'
import os, re, sys
sections = sys.argv[1]
begin = re.compile(r"<!-- BEGIN LAB-OUTPUTS\b[^\n]*?-->")
end = "<!-- END LAB-OUTPUTS -->"

def splice(path, text, begin_re, end_marker, new):
    m = begin_re.search(text)
    if not m or end_marker not in text[m.end():]:
        sys.exit(f"readme-outputs: {path} lacks its markers ({begin_re.pattern} ... {end_marker}); nothing written")
    j = text.index(end_marker, m.end())
    return text[:m.end()] + new + text[j:]

# Every doc with the markers gets a section and every section a doc;
# nothing is written unless all of them fit.
docs = sorted(f[:-3] for f in os.listdir("docs/commands")
              if f.endswith(".md") and begin.search(open(f"docs/commands/{f}").read()))
made = sorted(f[:-3] for f in os.listdir(sections) if f.endswith(".md"))
if docs != made:
    sys.exit(f"readme-outputs: examples made for {made} but docs/commands has markers in {docs}; nothing written")
out = {}
for name in made:
    path = f"docs/commands/{name}.md"
    section = open(os.path.join(sections, name + ".md")).read()
    out[path] = splice(path, open(path).read(), begin, end, "\n\n" + section)

# README.md's excerpt: the node table of the first `kubectl kpr status`
# run, without its cluster header (up to the first blank line) and
# without the per-node configuration and warnings after the table (the
# README stays short; docs/commands/status.md has them all).
status = open(os.path.join(sections, "status.md")).read()
opening = "```console\n$ kubectl kpr status\n"
k = status.find(opening)
if k < 0:
    sys.exit("readme-outputs: no `kubectl kpr status` example for docs/commands/status.md; nothing written")
run = status[k + len(opening):status.index("```\n", k + len(opening))]
_, blank, table = run.partition("\n\n")
if not blank or not table.startswith("NODE "):
    sys.exit("readme-outputs: the `kubectl kpr status` output has no node table after its header; nothing written")
table = table.split("\n\n", 1)[0].rstrip("\n") + "\n"
out["README.md"] = splice("README.md", open("README.md").read(),
                          re.compile(r"<!-- BEGIN STATUS-EXCERPT\b[^\n]*?-->"), "<!-- END STATUS-EXCERPT -->",
                          "\n\n" + opening + table + "```\n")

for path, text in out.items():
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print(f"readme-outputs: {path} updated")
PY
