package main

// The iptables chains and rules a Cilium agent installs on a node, for the
// lab's configuration (lab/manifests/cilium.yaml's cilium-config): IPv4
// only, tunnel routing (vxlan), iptables masquerading (enable-bpf-masquerade
// false, enable-ipv4-masquerade defaulting to true), L7 proxy enabled (so
// the in-agent DNS proxy runs), kube-proxy replacement, ipam kubernetes, no
// host firewall, no IPsec/WireGuard, no BPF host routing (legacy host
// routing: enable-endpoint-routes false, so the delivery interface is
// cilium_host), prepend-iptables-chains at its default (true), no
// disable-iptables-feeder-rules, no install-no-conntrack-iptables-rules, no
// enable-masquerade-to-route-source, no egress-masquerade-interfaces, no
// ipv4-native-routing-cidr (tunnel mode: the SNAT exclusion CIDR is then
// the node's own pod CIDR).
//
// Transcribed from cilium/cilium pkg/datapath/iptables/ at the releases
// 1.12.19, 1.14.19, 1.16.19, 1.18.8 and 1.20.2 (read from the Go module
// cache), mark values from pkg/datapath/linux/linux_defaults (mark.go,
// linux_defaults.go) of each release, printed in the form `iptables-save`
// (iptables 1.8.9) prints them (checked by TestCiliumChainsApplied). Where
// each rule comes from:
//
//   - The chains, their tables and hooks: custom_chain.go `ciliumChains`
//     (the same ten chains in every release here; CILIUM_OUTPUT_nat,
//     CILIUM_PRE_nat and CILIUM_POST_mangle are IPv4-only).
//   - The feeders `-m comment --comment "cilium-feeder: <CHAIN>" -j <CHAIN>`:
//     custom_chain.go `doInstallFeeder`, inserted (`-I`, prepend) because
//     prepend-iptables-chains defaults to true (1.12/1.14: daemon_main.go
//     flag; 1.16+: iptables/cell.go defaultConfig), last step of
//     iptables.go `installRules`.
//   - CILIUM_PRE_raw, CILIUM_OUTPUT_raw, CILIUM_INPUT, the ACCEPT rules of
//     CILIUM_OUTPUT and the socket rule of CILIUM_PRE_mangle:
//     iptables.go `installStaticProxyRules` (+ `inboundProxyRedirectRule`,
//     installed because xt_socket is present: `haveSocketMatch`, probed in
//     `Init`/`Start` with FindOrLoadModules("xt_socket") up to 1.16 and
//     with `iptables -t mangle -L -m socket -n` from 1.18).
//     1.12: OUTPUT_raw has lxc+ and cilium_host rules; CILIUM_OUTPUT's
//     first ACCEPT is "ACCEPT for proxy return traffic" on
//     0xa00/0xfffffeff; the socket rule has no mark exclusions.
//     1.14: that ACCEPT becomes "ACCEPT for proxy traffic" on 0xa00/0xe00;
//     the socket rule excludes 0xe00/0xf00 (encrypt) and 0x800/0xf00
//     (MarkProxyToWorld).
//     1.16: the socket rule gets `! -o lo`.
//     1.18: OUTPUT_raw's lxc+ rules only when the delivery interface is not
//     cilium_host (endpoint routes, ENI): gone here.
//     1.20: the second socket-rule exclusion is MarkSkipTProxy (same value
//     0x800).
//   - 1.20 only: "cilium: NOTRACK for tunnel traffic" (CILIUM_PRE_raw,
//     CILIUM_OUTPUT_raw) and "cilium: ACCEPT for tunnel traffic"
//     (CILIUM_OUTPUT) on udp 8472 (tunnel.Config.Port(): vxlan's default
//     defaults.TunnelPortVXLAN): iptables.go `addCiliumTunnelRules`,
//     `addCiliumAcceptTunnelRules`, `installTunnelNoTrackRules`, run before
//     the static proxy rules, so first in their chains.
//   - CILIUM_FORWARD: iptables.go `installForwardChainRulesIpX` (the same
//     four rules in every release).
//   - The last CILIUM_OUTPUT rule, "cilium: host->any mark as from host":
//     iptables.go `installHostTrafficMarkRule`. 1.14 added the overlay
//     exclusion (0x400/0xf00); 1.20 dropped the DNS proxy one (0xf00/0xf00)
//     and lists decrypt (0xd00) before encrypt (0xe00).
//   - CILIUM_POST_nat: iptables.go `installMasqueradeRules` (via
//     `allEgressMasqueradeCmds` from 1.16), the same five rules in every
//     release: no node ipset rule (NodeIpsetNeeded is false in tunnel mode).
//   - The two TPROXY rules of CILIUM_PRE_mangle: iptables.go
//     `addProxyRules`/`iptProxyRule` (1.12/1.14: `iptEgressProxyRule`),
//     called through InstallProxyRules when the DNS proxy
//     ("cilium-dns-egress") acks its port: 1.12-1.16 daemon/cmd/fqdn.go
//     `bootstrapFQDN`, 1.18+ pkg/fqdn/bootstrap `startProxy` (it starts
//     whenever enable-l7-proxy is true, with or without policies). The mark
//     is 0x200 | htons(port)<<16. 1.12 has no --on-ip (iptables-save shows
//     0.0.0.0); 1.14+ bind 127.0.0.1. No Envoy TPROXY rules: those come
//     with L7 policies, and the lab has none (enable-policy: never).
//   - CILIUM_PRE_nat, CILIUM_OUTPUT_nat, CILIUM_POST_mangle: created and
//     fed, but nothing in these configurations puts a rule in them (the
//     xfrm/encryption ACCEPTs need IPsec, the ENI CONNMARKs ENI IPAM).
//
// Runtime values a real agent has and the lab must choose (see
// ciliumRouterIP and ciliumDNSProxyPort): the cilium_host (router) address
// that the SNAT rules use, and the DNS proxy's port.
//
// Lab safety (TestCiliumChainsLeaveLabTrafficAlone proves it in throwaway
// namespaces with the stand-in's own nft table). Rules on interfaces the
// lab does not have (cilium_host, cilium_net, lxc+) never match, and no
// lab process sets the marks Cilium's BPF programs set (0x200, 0xa00,
// 0x800, 0xf00, htons(port)<<16|0x200 ...), so the NOTRACK, TPROXY, ACCEPT
// and SNAT rules on them never match either. What can match lab traffic:
//   - "cilium: host->any mark as from host" sets 0xc00/0xf00 on every
//     locally generated packet (MARK is not terminating; filter OUTPUT does
//     not re-route). Nothing in the lab reads those bits: there are no
//     fwmark ip rules, the stand-in's nft table matches no marks, and
//     kube-proxy's rules (live on some Cilium nodes, stale on node-stale)
//     use 0x4000 and 0x8000. A looped-back packet that keeps the mark
//     still fails every Cilium mark match above (0xc00 is none of them).
//   - "cilium masquerade non-cluster" MASQUERADEs a NEW connection from
//     this node's pod CIDR to outside it, leaving on a non-cilium_
//     interface (eth0). Pods only answer, and replies belong to existing
//     connections, which NAT rules never see; connections to other nodes'
//     pod IPs and node IPs take eth0's address as source. One lab flow
//     does match: the node's own connection to a ClusterIP takes its
//     source from lo's first pod IP when `kpr-lab-node pods` has put one
//     there (the Service CIDR's route is on kpr-svc, which has no
//     address), and if the stand-in DNATs it to a backend on another node
//     it leaves as the node IP instead of the pod IP. It still gets its
//     answer (the reply is un-NATed) and nothing in the lab looks at
//     client addresses. (On a real tunnel-mode node socket LB connects
//     straight to the backend, over Cilium's route via cilium_host, so
//     the backend would see cilium_host's address: inference.)
//   - "cilium: any->pod redirect ..." needs a local IP_TRANSPARENT socket;
//     no lab process opens one.
//   - 1.20's tunnel NOTRACK/ACCEPT match UDP to port 8472; the lab sends
//     none (no VXLAN, no Service on that port).
// The ACCEPT rules end only their own table's traversal, and since none of
// them matches lab traffic, kube-proxy's rules after them (REJECT for
// Services without endpoints, KUBE-FIREWALL) still apply where kube-proxy
// runs. The empty nat chains make no NAT binding, and the stand-in's DNAT
// (priority dstnat-10) runs before iptables' nat table (dstnat).

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// ciliumIptablesReleases are the releases whose source the rules were
// transcribed from. Another 1.x release gets the rules of the closest one
// below it (the changes happened somewhere between two of these).
var ciliumIptablesReleases = []string{"1.12.19", "1.14.19", "1.16.19", "1.18.8", "1.20.2"}

// ciliumDNSProxyPort is the DNS proxy's port in the TPROXY rules. A real
// agent lets the kernel pick it (tofqdns-proxy-port 0, the default: an
// ephemeral port) on its first start and reuses it across restarts; the
// lab fixes one (bytes 0x92 0x03, so the byte swap in the mark shows).
const ciliumDNSProxyPort = 37379

// ciliumRouterIP is the node's cilium_host address, the SNAT target of
// CILIUM_POST_nat. With ipam kubernetes the agent allocates it from the
// node's podCIDR with the host-scope allocator, which picks a random free
// address (pkg/ipam/service/allocator randomScanStrategy), and keeps it
// across restarts; the lab fixes offset 163.
func ciliumRouterIP(podCIDR netip.Prefix) netip.Addr {
	b := podCIDR.Masked().Addr().As4()
	b[3] += 163
	return netip.AddrFrom4(b)
}

// ciliumIptablesConfig is what the rules depend on.
type ciliumIptablesConfig struct {
	// Release is the Cilium release, e.g. "1.18.8".
	Release string
	// PodCIDR is the node's IPv4 podCIDR (Cilium's IPv4 alloc CIDR).
	PodCIDR netip.Prefix
	// RouterIP is the cilium_host address; zero means ciliumRouterIP.
	RouterIP netip.Addr
	// DNSProxyPort is the DNS proxy's port; zero means ciliumDNSProxyPort.
	DNSProxyPort uint16
	// SocketMatch: xt_socket is available, so the agent adds the socket
	// rule to CILIUM_PRE_mangle.
	SocketMatch bool
}

// ciliumChainSpec is one of the agent's chains and its feeder's hook.
type ciliumChainSpec struct {
	Table, Name, Hook string
}

// ciliumChainSpecs: custom_chain.go ciliumChains (IPv4), in its order.
var ciliumChainSpecs = []ciliumChainSpec{
	{"filter", "CILIUM_INPUT", "INPUT"},
	{"filter", "CILIUM_OUTPUT", "OUTPUT"},
	{"raw", "CILIUM_OUTPUT_raw", "OUTPUT"},
	{"nat", "CILIUM_POST_nat", "POSTROUTING"},
	{"nat", "CILIUM_OUTPUT_nat", "OUTPUT"},
	{"nat", "CILIUM_PRE_nat", "PREROUTING"},
	{"mangle", "CILIUM_POST_mangle", "POSTROUTING"},
	{"mangle", "CILIUM_PRE_mangle", "PREROUTING"},
	{"raw", "CILIUM_PRE_raw", "PREROUTING"},
	{"filter", "CILIUM_FORWARD", "FORWARD"},
}

// ciliumIptablesTables is the order of the tables in the restore input.
var ciliumIptablesTables = []string{"raw", "mangle", "nat", "filter"}

// iptBuiltinOrder is the order iptables-save prints built-in chains in.
var iptBuiltinOrder = map[string]int{"PREROUTING": 0, "INPUT": 1, "FORWARD": 2, "OUTPUT": 3, "POSTROUTING": 4}

// feederArgs are a feeder's arguments after "-I <hook>" (custom_chain.go
// doInstallFeeder's feedRule).
func (c ciliumChainSpec) feederArgs() []string {
	return []string{"-m", "comment", "--comment", "cilium-feeder: " + c.Name, "-j", c.Name}
}

// feederRule is a feeder's rule spec as iptables-save prints it.
func (c ciliumChainSpec) feederRule() string {
	return fmt.Sprintf(`-m comment --comment "cilium-feeder: %s" -j %s`, c.Name, c.Name)
}

// ciliumRule is one rule inside a CILIUM_* chain.
type ciliumRule struct {
	Chain string
	// Spec is the rule after "-A <chain> ", as iptables-save prints it.
	Spec string
	// From names the Cilium function that installs it.
	From string
}

// ciliumRulesRelease is the transcribed release whose rules apply to
// release: the closest one at or below it.
func ciliumRulesRelease(release string) (string, error) {
	minor, err := ciliumMinor(release)
	if err != nil {
		return "", err
	}
	best := ""
	for _, r := range ciliumIptablesReleases {
		if m, _ := ciliumMinor(r); m <= minor {
			best = r
		}
	}
	if best == "" {
		return "", fmt.Errorf("Cilium %s: no rules transcribed below %s (older releases had other chains, e.g. CILIUM_TRANSIENT_FORWARD)", release, ciliumIptablesReleases[0])
	}
	return best, nil
}

func ciliumMinor(release string) (int, error) {
	v := strings.TrimPrefix(release, "v")
	parts := strings.Split(v, ".")
	if len(parts) < 2 || parts[0] != "1" {
		return 0, fmt.Errorf("Cilium release %q: want 1.<minor>[.<patch>]", release)
	}
	m, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, fmt.Errorf("Cilium release %q: %v", release, err)
	}
	return m, nil
}

// Marks (linux_defaults, identical in all five releases), as iptables-save
// prints the "%#08x/%#08x" strings Cilium passes.
const (
	iptMarkToProxy      = "0x200/0xf00"      // MagicMarkIsToProxy/MagicMarkHostMask
	iptMarkProxyReply   = "0xa00/0xfffffeff" // MagicMarkIsProxy/MagicMarkProxyNoIDMask
	iptMarkL7Upstream   = "0x800/0xe00"      // MagicMarkIsProxyEPID/MagicMarkProxyMask
	iptMarkFromProxy    = "0xa00/0xe00"      // MagicMarkIsProxy/MagicMarkProxyMask
	iptMarkDecrypt      = "0xd00/0xf00"      // RouteMarkDecrypt/RouteMarkMask
	iptMarkEncrypt      = "0xe00/0xf00"      // RouteMarkEncrypt/RouteMarkMask
	iptMarkOverlay      = "0x400/0xf00"      // MagicMarkOverlay/MagicMarkHostMask
	iptMarkIdentity     = "0xf00/0xf00"      // MagicMarkIdentity/MagicMarkHostMask
	iptMarkHost         = "0xc00/0xf00"      // MagicMarkHost/MagicMarkHostMask
	iptMarkSkipTProxy   = "0x800/0xf00"      // MarkProxyToWorld (1.14-1.18), MarkSkipTProxy (1.20)
	iptSetMarkToProxy   = "0x200/0xffffffff" // --set-mark 0x200 (MagicMarkIsToProxy), saved as xmark
	iptTProxyMark       = "0x200/0xffffffff" // --tproxy-mark 0x200
	iptVXLANPort        = "8472"             // defaults.TunnelPortVXLAN
	iptDNSProxyName     = "cilium-dns-egress"
	iptHostDevice       = "cilium_host" // defaults.HostDevice
	iptSecondHostDevice = "cilium_net"  // defaults.SecondHostDevice
	iptLoopback4        = "127.0.0.1/32"
)

// ciliumRules lists the rules inside the CILIUM_* chains, each chain's in
// the order the agent appends them.
func ciliumRules(cfg ciliumIptablesConfig) ([]ciliumRule, error) {
	rel, err := ciliumRulesRelease(cfg.Release)
	if err != nil {
		return nil, err
	}
	minor, _ := ciliumMinor(rel)
	if !cfg.PodCIDR.IsValid() || !cfg.PodCIDR.Addr().Is4() {
		return nil, fmt.Errorf("an IPv4 podCIDR is needed, got %v", cfg.PodCIDR)
	}
	pod := cfg.PodCIDR.Masked().String()
	router := cfg.RouterIP
	if !router.IsValid() {
		router = ciliumRouterIP(cfg.PodCIDR)
	}
	port := cfg.DNSProxyPort
	if port == 0 {
		port = ciliumDNSProxyPort
	}
	var out []ciliumRule
	add := func(chain, from, spec string) { out = append(out, ciliumRule{Chain: chain, Spec: spec, From: from}) }
	comment := func(c string) string { return fmt.Sprintf(`-m comment --comment "%s"`, c) }

	// installRules: addCiliumTunnelRules (1.20) comes first.
	if minor >= 20 {
		from := "addCiliumTunnelRules"
		add("CILIUM_OUTPUT", from, "-p udp -m udp --dport "+iptVXLANPort+" "+comment("cilium: ACCEPT for tunnel traffic")+" -j ACCEPT")
		notrack := "-p udp -m udp --dport " + iptVXLANPort + " " + comment("cilium: NOTRACK for tunnel traffic") + " -j CT --notrack"
		add("CILIUM_PRE_raw", from, notrack)
		add("CILIUM_OUTPUT_raw", from, notrack)
	}

	// installStaticProxyRules.
	from := "installStaticProxyRules"
	add("CILIUM_PRE_raw", from, "-m mark --mark "+iptMarkToProxy+" "+comment("cilium: NOTRACK for proxy traffic")+" -j CT --notrack")
	add("CILIUM_INPUT", from, "-m mark --mark "+iptMarkToProxy+" "+comment("cilium: ACCEPT for proxy traffic")+" -j ACCEPT")
	reply := func(dev string) string {
		return "-o " + dev + " -m mark --mark " + iptMarkProxyReply + " " + comment("cilium: NOTRACK for proxy return traffic") + " -j CT --notrack"
	}
	upstream := func(dev string) string {
		return "-o " + dev + " -m mark --mark " + iptMarkL7Upstream + " " + comment("cilium: NOTRACK for L7 proxy upstream traffic") + " -j CT --notrack"
	}
	if minor < 18 {
		// lxc+ and cilium_host, return traffic first.
		add("CILIUM_OUTPUT_raw", from, reply("lxc+"))
		add("CILIUM_OUTPUT_raw", from, reply(iptHostDevice))
		add("CILIUM_OUTPUT_raw", from, upstream("lxc+"))
		add("CILIUM_OUTPUT_raw", from, upstream(iptHostDevice))
	} else {
		// The delivery interface is cilium_host: only its rules.
		add("CILIUM_OUTPUT_raw", from, reply(iptHostDevice))
		add("CILIUM_OUTPUT_raw", from, upstream(iptHostDevice))
	}
	if minor < 14 {
		add("CILIUM_OUTPUT", from, "-m mark --mark "+iptMarkProxyReply+" "+comment("cilium: ACCEPT for proxy return traffic")+" -j ACCEPT")
	} else {
		add("CILIUM_OUTPUT", from, "-m mark --mark "+iptMarkFromProxy+" "+comment("cilium: ACCEPT for proxy traffic")+" -j ACCEPT")
	}
	add("CILIUM_OUTPUT", from, "-m mark --mark "+iptMarkL7Upstream+" "+comment("cilium: ACCEPT for l7 proxy upstream traffic")+" -j ACCEPT")
	if cfg.SocketMatch {
		spec := "-m socket --transparent"
		if minor >= 16 {
			spec = "! -o lo " + spec
		}
		if minor >= 14 {
			spec += " -m mark ! --mark " + iptMarkEncrypt + " -m mark ! --mark " + iptMarkSkipTProxy
		}
		add("CILIUM_PRE_mangle", "inboundProxyRedirectRule", spec+" "+comment("cilium: any->pod redirect proxied traffic to host proxy")+" -j MARK --set-xmark "+iptSetMarkToProxy)
	}

	// installForwardChainRulesIpX.
	from = "installForwardChainRulesIpX"
	add("CILIUM_FORWARD", from, "-o "+iptHostDevice+" "+comment("cilium: any->cluster on "+iptHostDevice+" forward accept")+" -j ACCEPT")
	add("CILIUM_FORWARD", from, "-i "+iptHostDevice+" "+comment("cilium: cluster->any on "+iptHostDevice+" forward accept (nodeport)")+" -j ACCEPT")
	add("CILIUM_FORWARD", from, "-i lxc+ "+comment("cilium: cluster->any on lxc+ forward accept")+" -j ACCEPT")
	add("CILIUM_FORWARD", from, "-i "+iptSecondHostDevice+" "+comment("cilium: cluster->any on "+iptSecondHostDevice+" forward accept (nodeport)")+" -j ACCEPT")

	// installHostTrafficMarkRule.
	var not []string
	switch {
	case minor < 14:
		not = []string{iptMarkEncrypt, iptMarkDecrypt, iptMarkFromProxy, iptMarkL7Upstream, iptMarkIdentity}
	case minor < 20:
		not = []string{iptMarkEncrypt, iptMarkDecrypt, iptMarkOverlay, iptMarkFromProxy, iptMarkL7Upstream, iptMarkIdentity}
	default:
		not = []string{iptMarkDecrypt, iptMarkEncrypt, iptMarkOverlay, iptMarkFromProxy, iptMarkL7Upstream}
	}
	var sb strings.Builder
	for _, m := range not {
		sb.WriteString("-m mark ! --mark " + m + " ")
	}
	add("CILIUM_OUTPUT", "installHostTrafficMarkRule", sb.String()+comment("cilium: host->any mark as from host")+" -j MARK --set-xmark "+iptMarkHost)

	// installMasqueradeRules (IptablesMasqueradingIPv4Enabled).
	from = "installMasqueradeRules"
	add("CILIUM_POST_nat", from, "-s "+pod+" ! -d "+pod+" ! -o cilium_+ "+comment("cilium masquerade non-cluster")+" -j MASQUERADE")
	add("CILIUM_POST_nat", from, "-m mark --mark "+iptMarkFromProxy+" "+comment("exclude proxy return traffic from masquerade")+" -j ACCEPT")
	add("CILIUM_POST_nat", from, "! -s "+pod+" ! -d "+pod+" -o "+iptHostDevice+" "+comment("cilium host->cluster masquerade")+" -j SNAT --to-source "+router.String())
	add("CILIUM_POST_nat", from, "-s "+iptLoopback4+" -o "+iptHostDevice+" "+comment("cilium host->cluster from 127.0.0.1 masquerade")+" -j SNAT --to-source "+router.String())
	add("CILIUM_POST_nat", from, "-o "+iptHostDevice+" -m mark --mark "+iptMarkIdentity+" -m conntrack --ctstate DNAT "+comment("hairpin traffic that originated from a local pod")+" -j SNAT --to-source "+router.String())

	// The DNS proxy's TPROXY rules (InstallProxyRules, after start-up).
	from = "addProxyRules"
	mark := fmt.Sprintf("%#x", 0x200|uint32(port>>8|port<<8)<<16) // 0x200 | htons(port)<<16
	onIP := "127.0.0.1"
	if minor < 14 {
		onIP = "0.0.0.0" // no --on-ip: the kernel's default
	}
	for _, proto := range []string{"tcp", "udp"} {
		add("CILIUM_PRE_mangle", from, fmt.Sprintf("-p %s -m mark --mark %s %s -j TPROXY --on-port %d --on-ip %s --tproxy-mark %s",
			proto, mark, comment("cilium: TPROXY to host "+iptDNSProxyName+" proxy"), port, onIP, iptTProxyMark))
	}
	return out, nil
}

// renderCiliumIptables is the iptables-restore input (for --noflush) that
// installs the agent's chains: each table declares its CILIUM_* chains
// (which flushes them if they exist), inserts the feeders not in haveFeeder
// (chain names) and appends the chains' rules. Rules are grouped as
// iptables-save prints them: the built-in chains' first, then the CILIUM_*
// chains by name.
func renderCiliumIptables(cfg ciliumIptablesConfig, haveFeeder map[string]bool) (string, error) {
	rules, err := ciliumRules(cfg)
	if err != nil {
		return "", err
	}
	rel, _ := ciliumRulesRelease(cfg.Release)
	var b strings.Builder
	fmt.Fprintf(&b, "# The iptables chains of a Cilium %s agent (rules of cilium/cilium v%s pkg/datapath/iptables), podCIDR %s.\n", cfg.Release, rel, cfg.PodCIDR.Masked())
	fmt.Fprintf(&b, "# Written by kpr-lab-node (lab/standin/ciliumchains.go) for `iptables-restore --noflush`.\n")
	for _, table := range ciliumIptablesTables {
		var chains []ciliumChainSpec
		for _, c := range ciliumChainSpecs {
			if c.Table == table {
				chains = append(chains, c)
			}
		}
		sort.Slice(chains, func(i, j int) bool { return chains[i].Name < chains[j].Name })
		fmt.Fprintf(&b, "*%s\n", table)
		for _, c := range chains {
			fmt.Fprintf(&b, ":%s - [0:0]\n", c.Name)
		}
		feeders := append([]ciliumChainSpec(nil), chains...)
		sort.SliceStable(feeders, func(i, j int) bool { return iptBuiltinOrder[feeders[i].Hook] < iptBuiltinOrder[feeders[j].Hook] })
		for _, c := range feeders {
			if !haveFeeder[c.Name] {
				fmt.Fprintf(&b, "-I %s %s\n", c.Hook, c.feederRule())
			}
		}
		for _, c := range chains {
			from := ""
			for _, r := range rules {
				if r.Chain != c.Name {
					continue
				}
				if r.From != from {
					fmt.Fprintf(&b, "# %s: iptables.go %s\n", r.Chain, r.From)
					from = r.From
				}
				fmt.Fprintf(&b, "-A %s %s\n", r.Chain, r.Spec)
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String(), nil
}

// iptablesRunner runs the iptables tools, optionally behind a prefix such
// as `ip netns exec NS` (tests).
type iptablesRunner struct {
	prefix []string
}

func (r iptablesRunner) run(stdin string, name string, args ...string) (string, error) {
	argv := append(append([]string(nil), r.prefix...), name)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// socketMatch is Cilium's probe for xt_socket (1.18+ `Start`): listing
// with `-m socket` fails without the module.
func (r iptablesRunner) socketMatch() bool {
	_, err := r.run("", "iptables", "-w", "5", "-t", "mangle", "-L", "-m", "socket", "-n")
	return err == nil
}

// countFeeders counts each CILIUM_* feeder in the built-in chains.
func (r iptablesRunner) countFeeders() (map[string]int, error) {
	out, err := r.run("", "iptables-save")
	if err != nil {
		return nil, err
	}
	return countCiliumFeeders(out), nil
}

// countCiliumFeeders counts the feeder rules of each CILIUM_* chain in an
// iptables-save dump.
func countCiliumFeeders(dump string) map[string]int {
	n := map[string]int{}
	table := ""
	sc := bufio.NewScanner(strings.NewReader(dump))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "*") {
			table = line[1:]
			continue
		}
		for _, c := range ciliumChainSpecs {
			if c.Table == table && line == "-A "+c.Hook+" "+c.feederRule() {
				n[c.Name]++
			}
		}
	}
	return n
}

// ciliumIptablesResult says what an install did.
type ciliumIptablesResult struct {
	Release, RulesOf, IptablesVersion string
	Chains, Rules                     int
	FeedersAdded, FeedersKept         int
	DuplicatesRemoved                 int
	SocketMatch                       bool
}

func (r ciliumIptablesResult) String() string {
	return fmt.Sprintf("Cilium %s iptables chains (rules of v%s) installed with %s: %d chains, %d rules, feeders %d added, %d already present, %d duplicates removed; socket match %v",
		r.Release, r.RulesOf, r.IptablesVersion, r.Chains, r.Rules, r.FeedersAdded, r.FeedersKept, r.DuplicatesRemoved, r.SocketMatch)
}

// installCiliumIptables installs (or re-installs) the agent's chains with
// the iptables flavour `iptables` is (nf_tables here, as kube-proxy's):
// the CILIUM_* chains are declared (created or flushed) and refilled in one
// `iptables-restore --noflush` transaction per table; a feeder is inserted
// only if missing, and duplicates are removed, so re-running changes
// nothing. cfg.SocketMatch is probed the way Cilium does.
func installCiliumIptables(r iptablesRunner, cfg ciliumIptablesConfig) (ciliumIptablesResult, error) {
	res := ciliumIptablesResult{Release: cfg.Release}
	ver, err := r.run("", "iptables", "--version")
	if err != nil {
		return res, err
	}
	res.IptablesVersion = strings.TrimSpace(ver)
	res.RulesOf, err = ciliumRulesRelease(cfg.Release)
	if err != nil {
		return res, err
	}
	cfg.SocketMatch = r.socketMatch()
	res.SocketMatch = cfg.SocketMatch
	counts, err := r.countFeeders()
	if err != nil {
		return res, err
	}
	have := map[string]bool{}
	for _, c := range ciliumChainSpecs {
		n := counts[c.Name]
		for ; n > 1; n-- {
			args := append([]string{"-w", "5", "-t", c.Table, "-D", c.Hook}, c.feederArgs()...)
			if _, err := r.run("", "iptables", args...); err != nil {
				return res, err
			}
			res.DuplicatesRemoved++
		}
		if n == 1 {
			have[c.Name] = true
			res.FeedersKept++
		} else {
			res.FeedersAdded++
		}
	}
	script, err := renderCiliumIptables(cfg, have)
	if err != nil {
		return res, err
	}
	if _, err := r.run(script, "iptables-restore", "-w", "5", "--noflush"); err != nil {
		return res, fmt.Errorf("%w\n%s", err, script)
	}
	rules, _ := ciliumRules(cfg)
	res.Chains, res.Rules = len(ciliumChainSpecs), len(rules)
	// Check: every feeder exactly once.
	counts, err = r.countFeeders()
	if err != nil {
		return res, err
	}
	for _, c := range ciliumChainSpecs {
		if counts[c.Name] != 1 {
			return res, fmt.Errorf("after install, %d feeder(s) for %s in %s %s (want 1)", counts[c.Name], c.Name, c.Table, c.Hook)
		}
	}
	return res, nil
}
