package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func labCiliumConfig(release string) ciliumIptablesConfig {
	return ciliumIptablesConfig{Release: release, PodCIDR: netip.MustParsePrefix("10.244.11.0/24"), SocketMatch: true}
}

// rulesByChain is each CILIUM_* chain's rule specs, in order.
func rulesByChain(t *testing.T, cfg ciliumIptablesConfig) map[string][]string {
	t.Helper()
	rules, err := ciliumRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rules {
		out[r.Chain] = append(out[r.Chain], r.Spec)
	}
	return out
}

func TestCiliumRulesPerRelease(t *testing.T) {
	// Rules per chain, per release (see the header of ciliumchains.go).
	want := map[string]map[string]int{
		"1.12.19": {"CILIUM_PRE_raw": 1, "CILIUM_OUTPUT_raw": 4, "CILIUM_PRE_mangle": 3, "CILIUM_POST_nat": 5, "CILIUM_INPUT": 1, "CILIUM_OUTPUT": 3, "CILIUM_FORWARD": 4},
		"1.14.19": {"CILIUM_PRE_raw": 1, "CILIUM_OUTPUT_raw": 4, "CILIUM_PRE_mangle": 3, "CILIUM_POST_nat": 5, "CILIUM_INPUT": 1, "CILIUM_OUTPUT": 3, "CILIUM_FORWARD": 4},
		"1.16.19": {"CILIUM_PRE_raw": 1, "CILIUM_OUTPUT_raw": 4, "CILIUM_PRE_mangle": 3, "CILIUM_POST_nat": 5, "CILIUM_INPUT": 1, "CILIUM_OUTPUT": 3, "CILIUM_FORWARD": 4},
		"1.18.8":  {"CILIUM_PRE_raw": 1, "CILIUM_OUTPUT_raw": 2, "CILIUM_PRE_mangle": 3, "CILIUM_POST_nat": 5, "CILIUM_INPUT": 1, "CILIUM_OUTPUT": 3, "CILIUM_FORWARD": 4},
		"1.20.2":  {"CILIUM_PRE_raw": 2, "CILIUM_OUTPUT_raw": 3, "CILIUM_PRE_mangle": 3, "CILIUM_POST_nat": 5, "CILIUM_INPUT": 1, "CILIUM_OUTPUT": 4, "CILIUM_FORWARD": 4},
	}
	for _, rel := range ciliumIptablesReleases {
		t.Run(rel, func(t *testing.T) {
			got := rulesByChain(t, labCiliumConfig(rel))
			for _, c := range ciliumChainSpecs {
				if len(got[c.Name]) != want[rel][c.Name] {
					t.Errorf("%s: %d rules, want %d: %q", c.Name, len(got[c.Name]), want[rel][c.Name], got[c.Name])
				}
			}
			for chain := range got {
				found := false
				for _, c := range ciliumChainSpecs {
					found = found || c.Name == chain
				}
				if !found {
					t.Errorf("rule in unknown chain %s", chain)
				}
			}
			script, err := renderCiliumIptables(labCiliumConfig(rel), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range ciliumChainSpecs {
				if n := strings.Count(script, "\n:"+c.Name+" - [0:0]\n"); n != 1 {
					t.Errorf("%s declared %d times", c.Name, n)
				}
				if n := strings.Count(script, "\n-I "+c.Hook+" "+c.feederRule()+"\n"); n != 1 {
					t.Errorf("feeder of %s: %d", c.Name, n)
				}
			}
			if n := strings.Count(script, "\nCOMMIT\n"); n != 4 {
				t.Errorf("%d COMMITs", n)
			}
		})
	}

	r := func(rel string) map[string][]string { return rulesByChain(t, labCiliumConfig(rel)) }
	joined := func(rel, chain string) string { return strings.Join(r(rel)[chain], "\n") }
	// 1.12: TPROXY without --on-ip, the old proxy-return ACCEPT, a bare socket rule.
	if s := joined("1.12.19", "CILIUM_PRE_mangle"); !strings.Contains(s, "--on-ip 0.0.0.0") || !strings.HasPrefix(s, "-m socket --transparent -m comment") {
		t.Errorf("1.12 CILIUM_PRE_mangle:\n%s", s)
	}
	if s := r("1.12.19")["CILIUM_OUTPUT"][0]; !strings.Contains(s, "0xa00/0xfffffeff") || !strings.Contains(s, "ACCEPT for proxy return traffic") {
		t.Errorf("1.12 CILIUM_OUTPUT[0] = %s", s)
	}
	if s := joined("1.12.19", "CILIUM_OUTPUT"); strings.Contains(s, "0x400/0xf00") {
		t.Errorf("1.12 has the overlay exclusion: %s", s)
	}
	// 1.14: socket rule with mark exclusions, no `! -o lo`.
	if s := r("1.14.19")["CILIUM_PRE_mangle"][0]; !strings.HasPrefix(s, "-m socket --transparent -m mark ! --mark 0xe00/0xf00 -m mark ! --mark 0x800/0xf00") {
		t.Errorf("1.14 socket rule = %s", s)
	}
	// 1.16: `! -o lo`; lxc+ still in OUTPUT_raw.
	if s := r("1.16.19")["CILIUM_PRE_mangle"][0]; !strings.HasPrefix(s, "! -o lo -m socket --transparent") {
		t.Errorf("1.16 socket rule = %s", s)
	}
	if s := joined("1.16.19", "CILIUM_OUTPUT_raw"); strings.Count(s, "-o lxc+") != 2 {
		t.Errorf("1.16 CILIUM_OUTPUT_raw:\n%s", s)
	}
	// 1.18: only cilium_host in OUTPUT_raw, no tunnel rules.
	if s := joined("1.18.8", "CILIUM_OUTPUT_raw"); strings.Contains(s, "lxc+") || strings.Contains(joined("1.18.8", "CILIUM_OUTPUT"), "8472") {
		t.Errorf("1.18 CILIUM_OUTPUT_raw:\n%s", s)
	}
	// 1.20: tunnel rules first; host mark without the DNS-proxy exclusion, decrypt first.
	for _, chain := range []string{"CILIUM_OUTPUT", "CILIUM_PRE_raw", "CILIUM_OUTPUT_raw"} {
		if s := r("1.20.2")[chain][0]; !strings.HasPrefix(s, "-p udp -m udp --dport 8472 ") {
			t.Errorf("1.20 %s[0] = %s", chain, s)
		}
	}
	host := r("1.20.2")["CILIUM_OUTPUT"][3]
	if !strings.HasPrefix(host, "-m mark ! --mark 0xd00/0xf00 -m mark ! --mark 0xe00/0xf00 -m mark ! --mark 0x400/0xf00") || strings.Contains(host, "0xf00/0xf00") {
		t.Errorf("1.20 host mark rule = %s", host)
	}
	// The DNS proxy mark: 0x200 | htons(37379)<<16.
	if s := joined("1.18.8", "CILIUM_PRE_mangle"); strings.Count(s, "-m mark --mark 0x3920200 ") != 2 || strings.Count(s, "--on-port 37379 --on-ip 127.0.0.1") != 2 {
		t.Errorf("1.18 TPROXY rules:\n%s", s)
	}
	// Without xt_socket, no socket rule.
	cfg := labCiliumConfig("1.18.8")
	cfg.SocketMatch = false
	if s := strings.Join(rulesByChain(t, cfg)["CILIUM_PRE_mangle"], "\n"); strings.Contains(s, "socket") {
		t.Errorf("socket rule without socket match: %s", s)
	}
	// The SNAT target is the router IP in the podCIDR.
	if s := joined("1.18.8", "CILIUM_POST_nat"); strings.Count(s, "--to-source 10.244.11.163") != 3 {
		t.Errorf("CILIUM_POST_nat:\n%s", s)
	}
}

func TestCiliumRulesRelease(t *testing.T) {
	for in, want := range map[string]string{
		"1.12.19": "1.12.19", "1.13.4": "1.12.19", "v1.15.0": "1.14.19", "1.17.3": "1.16.19",
		"1.18.8": "1.18.8", "1.19.1": "1.18.8", "1.20.2": "1.20.2", "1.21.0": "1.20.2",
	} {
		if got, err := ciliumRulesRelease(in); err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"1.11.20", "2.0.0", "x", ""} {
		if _, err := ciliumRulesRelease(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestRenderSkipsPresentFeeders(t *testing.T) {
	have := map[string]bool{}
	for _, c := range ciliumChainSpecs {
		have[c.Name] = true
	}
	script, err := renderCiliumIptables(labCiliumConfig("1.18.8"), have)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(script, "\n-I ") {
		t.Errorf("feeders rendered although present:\n%s", script)
	}
}

func TestCountCiliumFeeders(t *testing.T) {
	dump := `*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -m comment --comment "cilium-feeder: CILIUM_PRE_nat" -j CILIUM_PRE_nat
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -m comment --comment "cilium-feeder: CILIUM_PRE_nat" -j CILIUM_PRE_nat
COMMIT
*filter
-A PREROUTING -m comment --comment "cilium-feeder: CILIUM_PRE_nat" -j CILIUM_PRE_nat
-A OUTPUT -m comment --comment "cilium-feeder: CILIUM_OUTPUT" -j CILIUM_OUTPUT
COMMIT
`
	got := countCiliumFeeders(dump)
	if got["CILIUM_PRE_nat"] != 2 || got["CILIUM_OUTPUT"] != 1 || len(got) != 2 {
		t.Errorf("counts = %v", got)
	}
}

// --- tests in throwaway network namespaces (root only) ---

func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-save", "iptables-restore", "nft", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
}

// tempNetns creates a network namespace that is deleted when the test ends.
func tempNetns(t *testing.T, role string) string {
	t.Helper()
	name := fmt.Sprintf("kprtest-%d-%s", os.Getpid(), role)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	sh(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func sh(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

var generatedLine = regexp.MustCompile(`(?m)^# (Generated by|Completed on) .*\n`)

func saveWithoutDates(t *testing.T, ns string) string {
	t.Helper()
	return generatedLine.ReplaceAllString(sh(t, "ip", "netns", "exec", ns, "iptables-save"), "")
}

func TestCiliumChainsApplied(t *testing.T) {
	needNetns(t)
	for _, rel := range ciliumIptablesReleases {
		t.Run(rel, func(t *testing.T) {
			ns := tempNetns(t, "chains")
			r := iptablesRunner{prefix: []string{"ip", "netns", "exec", ns}}
			// A kube-proxy jump already there: it must survive, after the feeder.
			sh(t, "ip", "netns", "exec", ns, "iptables", "-t", "nat", "-N", "KUBE-SERVICES")
			sh(t, "ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES")
			cfg := labCiliumConfig(rel)
			res, err := installCiliumIptables(r, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.FeedersAdded != 10 || res.FeedersKept != 0 || !res.SocketMatch {
				t.Errorf("first install: %s", res)
			}
			dump := saveWithoutDates(t, ns)
			// Every rule as rendered is what iptables-save prints, once.
			rules, _ := ciliumRules(cfg)
			for _, rule := range rules {
				if n := strings.Count(dump, "\n-A "+rule.Chain+" "+rule.Spec+"\n"); n != 1 {
					t.Errorf("%d× in iptables-save: -A %s %s", n, rule.Chain, rule.Spec)
				}
			}
			if got := strings.Count(dump, "\n-A CILIUM_"); got != len(rules) {
				t.Errorf("%d rules in CILIUM_* chains, want %d", got, len(rules))
			}
			for _, c := range ciliumChainSpecs {
				if n := strings.Count(dump, "\n:"+c.Name+" - [0:0]\n"); n != 1 {
					t.Errorf("chain %s declared %d times", c.Name, n)
				}
			}
			if !strings.Contains(dump, "-A PREROUTING -m comment --comment \"cilium-feeder: CILIUM_PRE_nat\" -j CILIUM_PRE_nat\n-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n") {
				t.Errorf("the feeder is not prepended before kube-proxy's jump:\n%s", dump)
			}
			// Re-install: nothing changes.
			for i := 0; i < 2; i++ {
				res, err = installCiliumIptables(r, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if res.FeedersAdded != 0 || res.FeedersKept != 10 || res.DuplicatesRemoved != 0 {
					t.Errorf("re-install %d: %s", i+1, res)
				}
				if again := saveWithoutDates(t, ns); again != dump {
					t.Errorf("re-install %d changed the rules:\nbefore:\n%s\nafter:\n%s", i+1, dump, again)
				}
			}
			// A duplicated feeder is repaired.
			sh(t, "ip", "netns", "exec", ns, "iptables", "-t", "filter", "-A", "OUTPUT", "-m", "comment", "--comment", "cilium-feeder: CILIUM_OUTPUT", "-j", "CILIUM_OUTPUT")
			res, err = installCiliumIptables(r, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.DuplicatesRemoved != 1 {
				t.Errorf("duplicate not removed: %s", res)
			}
			if again := saveWithoutDates(t, ns); again != dump {
				t.Errorf("after repair:\n%s\nwant:\n%s", again, dump)
			}
		})
	}
	t.Run("release switch", func(t *testing.T) {
		ns := tempNetns(t, "switch")
		r := iptablesRunner{prefix: []string{"ip", "netns", "exec", ns}}
		if _, err := installCiliumIptables(r, labCiliumConfig("1.20.2")); err != nil {
			t.Fatal(err)
		}
		if _, err := installCiliumIptables(r, labCiliumConfig("1.12.19")); err != nil {
			t.Fatal(err)
		}
		dump := saveWithoutDates(t, ns)
		if strings.Contains(dump, "8472") || !strings.Contains(dump, "--on-ip 0.0.0.0") {
			t.Errorf("1.20's rules left after installing 1.12's:\n%s", dump)
		}
	})
}

// TestCiliumHelperHTTPD is not a test: TestCiliumChainsLeaveLabTrafficAlone
// runs the test binary with it as the HTTP server inside a namespace. It
// answers "<name> <client IP>".
func TestCiliumHelperHTTPD(t *testing.T) {
	name := os.Getenv("KPR_TEST_HTTPD_NAME")
	if name == "" {
		t.Skip("helper process only")
	}
	err := http.ListenAndServe(":8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.RemoteAddr
		if i := strings.LastIndexByte(host, ':'); i > 0 {
			host = host[:i]
		}
		fmt.Fprintf(w, "%s %s", name, host)
	}))
	t.Fatal(err)
}

// TestCiliumChainsLeaveLabTrafficAlone builds a two-node replica of the
// lab in throwaway namespaces (pod IPs on lo, a veth between the node IPs,
// each routing the other's podCIDR, the Service CIDR to a sink, the
// stand-in's own nft table from renderNft), probes it, installs each
// release's Cilium chains on the "Cilium node" and probes again: every
// answer must be the same, except the one probe that connects from a pod
// IP to another node, which Cilium's "masquerade non-cluster" rule
// rewrites to the node IP (as on a real node) and which still answers.
func TestCiliumChainsLeaveLabTrafficAlone(t *testing.T) {
	needNetns(t)
	node := tempNetns(t, "node")
	peer := tempNetns(t, "peer")
	in := func(ns string, argv ...string) string {
		t.Helper()
		return sh(t, append([]string{"ip", "netns", "exec", ns}, argv...)...)
	}
	sh(t, "ip", "-n", node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer)
	for _, n := range []struct{ ns, ip, pod, other, otherPods string }{
		{node, "172.30.0.11/24", "10.244.11.5/32", "172.30.0.13", "10.244.13.0/24"},
		{peer, "172.30.0.13/24", "10.244.13.5/32", "172.30.0.11", "10.244.11.0/24"},
	} {
		sh(t, "ip", "-n", n.ns, "addr", "add", n.ip, "dev", "eth0")
		sh(t, "ip", "-n", n.ns, "link", "set", "eth0", "up")
		sh(t, "ip", "-n", n.ns, "addr", "add", n.pod, "dev", "lo")
		sh(t, "ip", "-n", n.ns, "route", "add", n.otherPods, "via", n.other, "dev", "eth0")
		in(n.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		in(n.ns, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1")
	}
	// The Service CIDR goes to a sink, as in lab.sh's net_up.
	sh(t, "ip", "-n", node, "link", "add", "kpr-svc", "type", "veth", "peer", "name", "kpr-svc-sink")
	sh(t, "ip", "-n", node, "link", "set", "kpr-svc", "up")
	sh(t, "ip", "-n", node, "link", "set", "kpr-svc-sink", "up")
	sh(t, "ip", "-n", node, "route", "add", "10.96.0.0/16", "via", "169.254.255.1", "dev", "kpr-svc", "onlink")
	sh(t, "ip", "-n", node, "neigh", "replace", "169.254.255.1", "lladdr", "02:00:00:00:00:01", "dev", "kpr-svc", "nud", "permanent")
	// The stand-in datapath's table: a local and a remote backend.
	ports := []ServicePort{
		{Namespace: "kube-system", Name: "local", Type: corev1.ServiceTypeNodePort, Protocol: corev1.ProtocolTCP,
			ClusterIPs: []string{"10.96.100.10"}, Port: 80, NodePort: 30080,
			Backends: []Backend{{IP: "10.244.11.5", Port: 8080, NodeName: "node-cilium"}}},
		{Namespace: "kube-system", Name: "remote", Type: corev1.ServiceTypeNodePort, Protocol: corev1.ProtocolTCP,
			ClusterIPs: []string{"10.96.100.11"}, Port: 80, NodePort: 30081,
			Backends: []Backend{{IP: "10.244.13.5", Port: 8080, NodeName: "node-bare"}}},
	}
	cmd := exec.Command("ip", "netns", "exec", node, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(renderNft(ports, "node-cilium"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	// HTTP servers on every address of both namespaces.
	for ns, name := range map[string]string{node: "node", peer: "peer"} {
		srv := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestCiliumHelperHTTPD$")
		srv.Env = append(os.Environ(), "KPR_TEST_HTTPD_NAME="+name)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	}
	type probe struct{ from, what string }
	curl := func(p probe) string {
		args := []string{"ip", "netns", "exec", p.from, "curl", "-s", "--max-time", "2"}
		args = append(args, strings.Fields(p.what)...)
		out, err := exec.Command(args[0], args[1:]...).Output()
		if err != nil {
			return fmt.Sprintf("error (%v) %s", err, out)
		}
		return string(out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, ns := range []string{node, peer} {
		for !strings.HasPrefix(curl(probe{ns, "http://127.0.0.1:8080/"}), "node") && !strings.HasPrefix(curl(probe{ns, "http://127.0.0.1:8080/"}), "peer") {
			if time.Now().After(deadline) {
				t.Fatal("the helper HTTP servers do not answer")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	probes := []probe{
		{node, "http://10.96.100.10/"},                             // ClusterIP, local pod backend
		{node, "http://10.96.100.11/"},                             // ClusterIP, backend on the other node
		{node, "http://127.0.0.1:30080/"},                          // NodePort on 127.0.0.1
		{node, "http://127.0.0.1:30081/"},                          // NodePort on 127.0.0.1, remote backend
		{node, "http://172.30.0.11:30081/"},                        // NodePort on the node IP, remote backend
		{peer, "http://172.30.0.11:30080/"},                        // remote NodePort, local pod backend
		{peer, "http://172.30.0.11:30081/"},                        // remote NodePort, backend back on the caller's node
		{peer, "http://10.244.11.5:8080/"},                         // pod IP across the veth
		{peer, "http://172.30.0.11:8080/"},                         // node IP
		{node, "http://10.244.13.5:8080/"},                         // the other node's pod IP
		{node, "http://10.244.11.5:8080/"},                         // own pod IP on lo
		{node, "--max-time 1 http://10.96.100.99/"},                // a ClusterIP nobody serves: hangs
		{node, "http://127.0.0.1:30099/"},                          // a NodePort nobody serves: refused
		{node, "--interface 10.244.11.5 http://10.244.13.5:8080/"}, // from a pod IP to the other node: masqueraded
	}
	before := map[probe]string{}
	for _, p := range probes {
		before[p] = curl(p)
	}
	// The baseline is the lab's behaviour. The node's own connections to a
	// ClusterIP take their source from lo's pod IP: the Service CIDR's route
	// is on kpr-svc, which has no address, and the kernel then picks the
	// first global address of the namespace (lo's 10.244.11.5, when a pod
	// IP is there).
	for p, want := range map[probe]string{
		probes[0]: "node 10.244.11.5", probes[1]: "peer 10.244.11.5", probes[5]: "node 172.30.0.13",
		probes[6]: "peer 172.30.0.11", probes[7]: "node 172.30.0.13", probes[13]: "peer 10.244.11.5",
	} {
		if before[p] != want {
			t.Errorf("baseline %v = %q, want %q", p, before[p], want)
		}
	}
	if !strings.HasPrefix(before[probes[11]], "error") || !strings.HasPrefix(before[probes[12]], "error") {
		t.Errorf("baseline: unserved ClusterIP/NodePort answered: %q %q", before[probes[11]], before[probes[12]])
	}
	r := iptablesRunner{prefix: []string{"ip", "netns", "exec", node}}
	for _, rel := range ciliumIptablesReleases {
		res, err := installCiliumIptables(r, labCiliumConfig(rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		t.Logf("%s", res)
		for _, p := range probes {
			got := curl(p)
			want := before[p]
			if p == probes[1] || p == probes[13] {
				// A new connection from this node's podCIDR to another
				// node: Cilium's "masquerade non-cluster" gives it the node
				// IP (as on a real node). It still answers.
				want = "peer 172.30.0.11"
			}
			if strings.HasPrefix(want, "error") {
				// Same failure (timeout or refusal), not the same text.
				if !strings.HasPrefix(got, "error") || exitCode(got) != exitCode(want) {
					t.Errorf("%s: %v: %q, before %q", rel, p, got, want)
				}
				continue
			}
			if got != want {
				t.Errorf("%s: %v: %q, before the chains %q", rel, p, got, want)
			}
		}
	}
}

var exitStatus = regexp.MustCompile(`exit status \d+`)

func exitCode(s string) string { return exitStatus.FindString(s) }
