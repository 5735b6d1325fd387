package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NftTable is the stand-in datapath's own table. It must never look like
// kube-proxy's (`table ip kube-proxy`, KUBE-* chains): kpr tells them apart.
const NftTable = "kpr-lab-ebpf-standin"

// Priority just before NAT's dstnat (-100), so the stand-in sees a packet
// before any leftover kube-proxy rule, as Cilium's socket LB does.
const nftPriority = -110

// renderNft returns an nft script that atomically replaces the stand-in
// table with DNAT rules for every Service port that has backends, split
// the way the real agents split them (docs/service-behaviours.md, checked
// on the lab's real 1.18.8 and 1.20.2 agents):
//   - the node's own connections (nat output, socket-LB's place): the
//     ClusterIP, NodePorts on any local address (node IP, 127.0.0.1: the
//     0.0.0.0 surrogate) and LB IPs with every backend (the internal scope:
//     externalTrafficPolicy Local does not apply), externalIPs only when
//     the address is local (the CVE-2020-8554 mitigation);
//   - packets arriving (nat prerouting, the BPF NodePort's place): the
//     ClusterIP, and NodePorts, externalIPs and LB IPs with the node's own
//     backends only under externalTrafficPolicy Local;
//   - sessionAffinity ClientIP: a client (source address) keeps its
//     backend for the timeout, per Service port, as kube-proxy's nftables
//     mode does it (one dynamic set per backend);
//   - the node's own connections to another registered Cilium node's
//     NodePort (remote: those nodes' InternalIPs) with every backend, as
//     socket-LB translates them at connect().
func renderNft(ports []ServicePort, node string, remote ...string) string {
	var out, in, extra []string
	for n, sp := range ports {
		proto := strings.ToLower(string(sp.Protocol))
		if sp.Protocol != corev1.ProtocolTCP && sp.Protocol != corev1.ProtocolUDP {
			continue
		}
		all := sp.Backends
		var local []Backend
		for _, b := range all {
			if b.NodeName == node {
				local = append(local, b)
			}
		}
		comment := fmt.Sprintf(" comment \"%s/%s:%d\"", sp.Namespace, sp.Name, sp.Port)
		// to is the verdict sending a packet to one of bes: a DNAT, or
		// with affinity a jump to the Service port's affinity chain.
		declared := map[string]bool{}
		to := func(bes []Backend, scope string) string {
			if sp.Affinity && len(bes) > 0 {
				name := fmt.Sprintf("aff%d%s", n, scope)
				if !declared[name] {
					declared[name] = true
					extra = append(extra, affinityChain(name, proto, bes, sp.AffinitySeconds)...)
				}
				return "goto " + name
			}
			if len(bes) == 1 {
				return fmt.Sprintf("dnat to %s:%d", bes[0].IP, bes[0].Port)
			}
			var elems []string
			for i, b := range bes {
				elems = append(elems, fmt.Sprintf("%d : %s . %d", i, b.IP, b.Port))
			}
			return fmt.Sprintf("dnat ip to numgen random mod %d map { %s }", len(bes), strings.Join(elems, ", "))
		}
		if len(all) > 0 {
			for _, ip := range sp.ClusterIPs {
				rule := fmt.Sprintf("ip daddr %s %s dport %d %s%s", ip, proto, sp.Port, to(all, "i"), comment)
				out, in = append(out, rule), append(in, rule)
			}
			for _, ip := range sp.ExternalIPs {
				if net.ParseIP(ip).To4() != nil {
					out = append(out, fmt.Sprintf("fib daddr type local ip daddr %s %s dport %d %s%s", ip, proto, sp.Port, to(all, "i"), comment))
				}
			}
			for _, ip := range sp.LBIngress {
				if net.ParseIP(ip).To4() != nil {
					out = append(out, fmt.Sprintf("ip daddr %s %s dport %d %s%s", ip, proto, sp.Port, to(all, "i"), comment))
				}
			}
			if sp.NodePort != 0 {
				out = append(out, fmt.Sprintf("fib daddr type local %s dport %d %s%s", proto, sp.NodePort, to(all, "i"), comment))
				if len(remote) > 0 {
					out = append(out, fmt.Sprintf("ip daddr { %s } %s dport %d %s%s", strings.Join(remote, ", "), proto, sp.NodePort, to(all, "i"), comment))
				}
			}
		}
		ext, scope := all, "i"
		if sp.ExtLocal {
			ext, scope = local, "e"
		}
		if len(ext) == 0 {
			continue
		}
		for _, ip := range append(append([]string(nil), sp.ExternalIPs...), sp.LBIngress...) {
			if net.ParseIP(ip).To4() == nil {
				continue
			}
			in = append(in, fmt.Sprintf("ip daddr %s %s dport %d %s%s", ip, proto, sp.Port, to(ext, scope), comment))
		}
		if sp.NodePort != 0 {
			in = append(in, fmt.Sprintf("fib daddr type local %s dport %d %s%s", proto, sp.NodePort, to(ext, scope), comment))
		}
	}
	var b strings.Builder
	// Declare, delete, re-create: one atomic transaction whether or not the
	// table existed.
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\n", NftTable, NftTable)
	fmt.Fprintf(&b, "table ip %s {\n", NftTable)
	for _, l := range extra {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	for _, c := range []struct {
		name  string
		rules []string
	}{{"services_out", out}, {"services_in", in}} {
		fmt.Fprintf(&b, "\tchain %s {\n", c.name)
		for _, r := range c.rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		fmt.Fprintf(&b, "\t}\n")
	}
	fmt.Fprintf(&b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority %d; policy accept;\n\t\tjump services_in\n\t}\n", nftPriority)
	fmt.Fprintf(&b, "\tchain output {\n\t\ttype nat hook output priority %d; policy accept;\n\t\tjump services_out\n\t}\n", nftPriority)
	// NodePort on 127.0.0.1 towards another node: the source must not stay
	// a loopback address once the packet leaves lo.
	// A NodePort reached from another node and sent on to a backend
	// elsewhere is SNATed, as Cilium's bpf-lb-mode=snat does, so the reply
	// comes back through this node.
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr 127.0.0.0/8 oifname != \"lo\" masquerade\n\t\tiifname \"eth0\" oifname \"eth0\" ct status dnat masquerade\n\t}\n")
	fmt.Fprintf(&b, "}\n")
	return b.String()
}

// affinityChain is one Service port's ClientIP affinity over bes, in
// kube-proxy nftables mode's shape (pkg/proxy/nftables/proxier.go: a
// dynamic set per endpoint, looked up before the random choice, updated in
// the endpoint's chain): sets and chains named after name.
func affinityChain(name, proto string, bes []Backend, seconds int32) []string {
	var lines, choice []string
	var lookups []string
	for i, b := range bes {
		set := fmt.Sprintf("%s_s%d", name, i)
		ep := fmt.Sprintf("%s_e%d", name, i)
		lines = append(lines,
			fmt.Sprintf("set %s { type ipv4_addr; flags dynamic,timeout; timeout %ds; }", set, seconds),
			fmt.Sprintf("chain %s { update @%s { ip saddr } meta l4proto %s dnat to %s:%d; }", ep, set, proto, b.IP, b.Port))
		lookups = append(lookups, fmt.Sprintf("ip saddr @%s goto %s;", set, ep))
		choice = append(choice, fmt.Sprintf("%d : goto %s", i, ep))
	}
	lines = append(lines, fmt.Sprintf("chain %s { %s numgen random mod %d vmap { %s }; }", name, strings.Join(lookups, " "), len(bes), strings.Join(choice, ", ")))
	return lines
}

func renderNftOnce(args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := clientset()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	snap, err := loadSnapshot(ctx, cs, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print(renderNft(servicePorts(snap), os.Getenv("KPR_LAB_NODE")))
	return 0
}

// runDatapath first installs the iptables chains a Cilium agent of
// KPR_LAB_CILIUM_VERSION installs (ciliumchains.go), then keeps the
// stand-in table in step with the API, polling every --interval: simpler
// than informers and cheap at the lab's size. An agent that reports KPR
// False or Disabled (KPR_LAB_CILIUM_KPR_MODE) does no Services: then only
// the chains are installed.
func runDatapath(args []string) int {
	fs := flag.NewFlagSet("datapath", flag.ContinueOnError)
	interval := fs.Duration("interval", 2*time.Second, "resync period")
	once := fs.Bool("once", false, "sync once and exit")
	printIpt := fs.Bool("print-cilium-iptables", false, "print the iptables-restore input of the Cilium agent's chains for this node and exit (socket match assumed)")
	podCIDR := fs.String("pod-cidr", "", "the node's podCIDR for the Cilium chains (default: the Node's spec.podCIDR, else derived from eth0's address)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	node := os.Getenv("KPR_LAB_NODE")
	if *printIpt {
		var cs kubernetes.Interface
		if os.Getenv("KPR_LAB_KUBECONFIG") != "" {
			if c, err := clientset(); err == nil {
				cs = c
			}
		}
		cfg, err := ciliumIptablesConfigFor(cs, node, *podCIDR, 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg.SocketMatch = true
		script, err := renderCiliumIptables(cfg, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Print(script)
		return 0
	}
	cs, err := clientset()
	if err != nil {
		log.Print(err)
		return 1
	}
	cfg, err := ciliumIptablesConfigFor(cs, node, *podCIDR, 5)
	if err != nil {
		log.Printf("datapath stand-in: Cilium iptables chains: %v", err)
		return 1
	}
	res, err := installCiliumIptables(iptablesRunner{}, cfg)
	if err != nil {
		log.Printf("datapath stand-in: Cilium iptables chains: %v", err)
		return 1
	}
	log.Printf("datapath stand-in: %s (podCIDR %s, cilium_host %s)", res, cfg.PodCIDR, ciliumRouterIP(cfg.PodCIDR))
	dyn, err := dynamicClient()
	if err != nil {
		log.Print(err)
		return 1
	}
	registered := false
	register := func() {
		if registered {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := registerCiliumNode(ctx, cs, dyn, node, ciliumRouterIP(cfg.PodCIDR).String()); err != nil {
			log.Printf("datapath stand-in: %v", err)
			return
		}
		registered = true
		log.Printf("datapath stand-in: CiliumNode %s registered", node)
	}
	register()
	if mode := os.Getenv("KPR_LAB_CILIUM_KPR_MODE"); strings.EqualFold(mode, "False") || strings.EqualFold(mode, "Disabled") {
		log.Printf("datapath stand-in: the agent reports KPR %s: no Service datapath, only the chains", mode)
		for !registered {
			time.Sleep(*interval)
			register()
		}
		return 0
	}
	last := ""
	for {
		register()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		snap, err := loadSnapshot(ctx, cs, false)
		var remote []string
		if err == nil {
			remote, err = remoteCiliumNodeIPs(ctx, dyn, node)
		}
		cancel()
		if err != nil {
			log.Printf("datapath stand-in: %v", err)
		} else if script := renderNft(servicePorts(snap), node, remote...); script != last {
			cmd := exec.Command("nft", "-f", "-")
			cmd.Stdin = strings.NewReader(script)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				log.Printf("datapath stand-in: nft: %v: %s\n%s", err, stderr.String(), script)
			} else {
				last = script
				log.Printf("datapath stand-in: table ip %s updated (%d bytes)", NftTable, len(script))
			}
		}
		if *once {
			return 0
		}
		time.Sleep(*interval)
	}
}

// ciliumIptablesConfigFor is the Cilium chains' configuration on this node:
// the release from KPR_LAB_CILIUM_VERSION (default 1.18.8) and the podCIDR
// from override, else the Node's spec.podCIDR (tries attempts times, 2 s
// apart), else the lab's rule (KPR_LAB_POD_NET_PREFIX + the last octet of
// eth0's IPv4 address + ".0/24").
func ciliumIptablesConfigFor(cs kubernetes.Interface, node, override string, attempts int) (ciliumIptablesConfig, error) {
	cfg := ciliumIptablesConfig{Release: os.Getenv("KPR_LAB_CILIUM_VERSION")}
	if cfg.Release == "" {
		cfg.Release = "1.18.8"
	}
	cidr := override
	if cidr == "" && cs != nil && node != "" {
		for i := 0; i < attempts; i++ {
			if i > 0 {
				time.Sleep(2 * time.Second)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			cancel()
			if err == nil {
				cidr = n.Spec.PodCIDR
				break
			}
			log.Printf("datapath stand-in: node %s: %v", node, err)
		}
	}
	if cidr == "" {
		ip, err := eth0IPv4()
		if err != nil {
			return cfg, fmt.Errorf("no podCIDR: not from the API, and %v (use --pod-cidr)", err)
		}
		cidr = fmt.Sprintf("%s%d.0/24", podNetPrefix(), ip.As4()[3])
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return cfg, fmt.Errorf("podCIDR %q: not an IPv4 prefix", cidr)
	}
	cfg.PodCIDR = p.Masked()
	return cfg, nil
}

func eth0IPv4() (netip.Addr, error) {
	itf, err := net.InterfaceByName("eth0")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("eth0: %w", err)
	}
	addrs, err := itf.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("eth0: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			ip, _ := netip.AddrFromSlice(ipn.IP.To4())
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("eth0 has no IPv4 address")
}
