package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// NftTable is the stand-in datapath's own table. It must never look like
// kube-proxy's (`table ip kube-proxy`, KUBE-* chains): kpr tells them apart.
const NftTable = "kpr-lab-ebpf-standin"

// Priority just before NAT's dstnat (-100), so the stand-in sees a packet
// before any leftover kube-proxy rule, as Cilium's socket LB does.
const nftPriority = -110

// renderNft returns an nft script that atomically replaces the stand-in
// table with DNAT rules for every Service port that has backends:
// ClusterIPs, externalIPs and LB IPs by address, NodePorts on any local
// address (node IP, 127.0.0.1: the 0.0.0.0 surrogate).
func renderNft(ports []ServicePort, node string) string {
	var rules []string
	for _, sp := range ports {
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
		dnat := func(bes []Backend) string {
			if len(bes) == 1 {
				return fmt.Sprintf("dnat to %s:%d", bes[0].IP, bes[0].Port)
			}
			var elems []string
			for i, b := range bes {
				elems = append(elems, fmt.Sprintf("%d : %s . %d", i, b.IP, b.Port))
			}
			return fmt.Sprintf("dnat ip to numgen random mod %d map { %s }", len(bes), strings.Join(elems, ", "))
		}
		comment := fmt.Sprintf(" comment \"%s/%s:%d\"", sp.Namespace, sp.Name, sp.Port)
		if len(all) > 0 {
			for _, ip := range sp.ClusterIPs {
				rules = append(rules, fmt.Sprintf("ip daddr %s %s dport %d %s%s", ip, proto, sp.Port, dnat(all), comment))
			}
		}
		ext := all
		if sp.ExtLocal {
			ext = local
		}
		if len(ext) == 0 {
			continue
		}
		for _, ip := range append(append([]string(nil), sp.ExternalIPs...), sp.LBIngress...) {
			if net.ParseIP(ip).To4() == nil {
				continue
			}
			rules = append(rules, fmt.Sprintf("ip daddr %s %s dport %d %s%s", ip, proto, sp.Port, dnat(ext), comment))
		}
		if sp.NodePort != 0 {
			rules = append(rules, fmt.Sprintf("fib daddr type local %s dport %d %s%s", proto, sp.NodePort, dnat(ext), comment))
		}
	}
	var b strings.Builder
	// Declare, delete, re-create: one atomic transaction whether or not the
	// table existed.
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\n", NftTable, NftTable)
	fmt.Fprintf(&b, "table ip %s {\n", NftTable)
	fmt.Fprintf(&b, "\tchain services {\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "\t\t%s\n", r)
	}
	fmt.Fprintf(&b, "\t}\n")
	fmt.Fprintf(&b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority %d; policy accept;\n\t\tjump services\n\t}\n", nftPriority)
	fmt.Fprintf(&b, "\tchain output {\n\t\ttype nat hook output priority %d; policy accept;\n\t\tjump services\n\t}\n", nftPriority)
	// NodePort on 127.0.0.1 towards another node: the source must not stay
	// a loopback address once the packet leaves lo.
	// A NodePort reached from another node and sent on to a backend
	// elsewhere is SNATed, as Cilium's bpf-lb-mode=snat does, so the reply
	// comes back through this node.
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr 127.0.0.0/8 oifname != \"lo\" masquerade\n\t\tiifname \"eth0\" oifname \"eth0\" ct status dnat masquerade\n\t}\n")
	fmt.Fprintf(&b, "}\n")
	return b.String()
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

// runDatapath keeps the stand-in table in step with the API, polling every
// --interval: simpler than informers and cheap at the lab's size.
func runDatapath(args []string) int {
	fs := flag.NewFlagSet("datapath", flag.ContinueOnError)
	interval := fs.Duration("interval", 2*time.Second, "resync period")
	once := fs.Bool("once", false, "sync once and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	node := os.Getenv("KPR_LAB_NODE")
	cs, err := clientset()
	if err != nil {
		log.Print(err)
		return 1
	}
	last := ""
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		snap, err := loadSnapshot(ctx, cs, false)
		cancel()
		if err != nil {
			log.Printf("datapath stand-in: %v", err)
		} else if script := renderNft(servicePorts(snap), node); script != last {
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
