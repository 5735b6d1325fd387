package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// runPods gives the node's pod-network pods a body: kwok marks them
// Running and gives them an IP from the node's podCIDR, but runs nothing.
// For every Running, non-hostNetwork pod on this node that declares TCP
// container ports, this face puts the pod IP on lo (other nodes route the
// node's podCIDR to the node IP) and answers HTTP on each port, as
// agnhost netexec would: "/" and "/hostname" say the pod's name. So the
// backends `kpr verify --deploy-backends` creates really answer, behind
// whichever datapath the node has.
func runPods(args []string) int {
	fs := flag.NewFlagSet("pods", flag.ContinueOnError)
	interval := fs.Duration("interval", time.Second, "resync period")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	node := os.Getenv("KPR_LAB_NODE")
	cs, err := clientset()
	if err != nil {
		log.Print(err)
		return 1
	}
	served := map[string]*podServer{} // key: ip:port
	var pm *portmapper
	if bin := os.Getenv("KPR_LAB_PORTMAP"); bin != "" {
		pm = &portmapper{bin: bin, mapped: map[string]hostPortPod{}}
		defer pm.close()
		log.Printf("pods: hostPorts through the portmap CNI plugin %s", bin)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
		cancel()
		if err != nil {
			log.Printf("pods: %v", err)
		} else {
			reconcilePods(node, podEndpoints(list.Items), served)
			if pm != nil {
				pm.reconcile(podHostPorts(list.Items))
			}
		}
		time.Sleep(*interval)
	}
}

// podEndpoint is one pod IP and TCP port to answer on.
type podEndpoint struct {
	Pod, IP string
	Port    int32
}

func (e podEndpoint) addr() string { return net.JoinHostPort(e.IP, strconv.Itoa(int(e.Port))) }

// podEndpoints picks the ports to serve: Running pods with their own IPv4
// (hostNetwork pods answer, if at all, through their node's processes).
func podEndpoints(pods []corev1.Pod) []podEndpoint {
	var out []podEndpoint
	for _, p := range pods {
		ip := runningPodIPv4(p)
		if ip == nil {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
					out = append(out, podEndpoint{Pod: p.Namespace + "/" + p.Name, IP: ip.String(), Port: cp.ContainerPort})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr() < out[j].addr() })
	return out
}

type podServer struct {
	ep  podEndpoint
	srv *http.Server
}

// reconcilePods starts servers for new endpoints and stops those whose pod
// is gone, adding and removing the pod IPs on lo.
func reconcilePods(node string, want []podEndpoint, served map[string]*podServer) {
	wantAddr := map[string]podEndpoint{}
	wantIP := map[string]bool{}
	for _, e := range want {
		wantAddr[e.addr()] = e
		wantIP[e.IP] = true
	}
	for addr, s := range served {
		if w, ok := wantAddr[addr]; !ok || w.Pod != s.ep.Pod {
			s.srv.Close()
			delete(served, addr)
			log.Printf("pods: %s stopped (%s gone)", addr, s.ep.Pod)
		}
	}
	haveIP := map[string]bool{}
	for _, s := range served {
		haveIP[s.ep.IP] = true
	}
	for _, ip := range loIPs() {
		if strings.HasPrefix(ip, podNetPrefix()) && !wantIP[ip] && !haveIP[ip] {
			if out, err := exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").CombinedOutput(); err != nil {
				log.Printf("pods: ip addr del %s: %v %s", ip, err, out)
			}
		}
	}
	for addr, e := range wantAddr {
		if served[addr] != nil {
			continue
		}
		if out, err := exec.Command("ip", "addr", "replace", e.IP+"/32", "dev", "lo").CombinedOutput(); err != nil {
			log.Printf("pods: ip addr replace %s: %v %s", e.IP, err, out)
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Printf("pods: listen %s: %v", addr, err)
			continue
		}
		name := e.Pod[strings.IndexByte(e.Pod, '/')+1:]
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if r.URL.Path == "/hostname" {
				fmt.Fprint(w, name)
				return
			}
			fmt.Fprintf(w, "%s on %s\n", name, node)
		})
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		served[addr] = &podServer{ep: e, srv: srv}
		log.Printf("pods: %s serving %s", addr, e.Pod)
	}
}

// podNetPrefix is the pod network's first octets (LAB_POD_NET_PREFIX,
// "10.244."): only such addresses on lo are ours to remove.
func podNetPrefix() string { return envOr("KPR_LAB_POD_NET_PREFIX", "10.244.") }

func loIPs() []string {
	ifc, err := net.InterfaceByName("lo")
	if err != nil {
		return nil
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n.IP.String())
		}
	}
	return out
}

// portMapping is one entry of the CNI portMappings capability, as a
// container runtime passes a pod's hostPorts to the portmap plugin
// (containerd: protocol lower-cased, hostIP only when set).
type portMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// hostPortPod is a Running pod with hostPorts: its UID is the CNI
// container ID.
type hostPortPod struct {
	UID, Pod, IP string
	Maps         []portMapping
}

func (p hostPortPod) equal(q hostPortPod) bool {
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(q)
	return bytes.Equal(a, b)
}

// podHostPorts picks the pods the runtime would call portmap for: Running,
// not hostNetwork (hostNetwork pods' hostPort is the port itself), with an
// IPv4 and at least one hostPort.
func podHostPorts(pods []corev1.Pod) []hostPortPod {
	var out []hostPortPod
	for _, p := range pods {
		ip := runningPodIPv4(p)
		if ip == nil {
			continue
		}
		h := hostPortPod{UID: string(p.UID), Pod: p.Namespace + "/" + p.Name, IP: ip.String()}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.HostPort == 0 {
					continue
				}
				proto := strings.ToLower(string(cp.Protocol))
				if proto == "" {
					proto = "tcp"
				}
				h.Maps = append(h.Maps, portMapping{HostPort: cp.HostPort, ContainerPort: cp.ContainerPort, Protocol: proto, HostIP: cp.HostIP})
			}
		}
		if len(h.Maps) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// portmapConfig is the network configuration a runtime hands portmap
// (libcni: the plugin's conf with runtimeConfig injected for its
// capabilities, and the previous plugin's result): cniVersion 1.0.0, SNAT
// on (hairpin and localhost traffic), the pod's IP as the result of the
// plugin before it on interface eth0 in the pod's sandbox.
func portmapConfig(p hostPortPod, sandbox string) []byte {
	conf := map[string]any{
		"cniVersion":    "1.0.0",
		"name":          "kpr-lab",
		"type":          "portmap",
		"capabilities":  map[string]bool{"portMappings": true},
		"snat":          true,
		"runtimeConfig": map[string]any{"portMappings": p.Maps},
		"prevResult": map[string]any{
			"cniVersion": "1.0.0",
			"interfaces": []map[string]string{{"name": "eth0", "sandbox": sandbox}},
			"ips":        []map[string]any{{"address": p.IP + "/32", "interface": 0}},
		},
	}
	b, _ := json.Marshal(conf)
	return b
}

// portmapper calls the real portmap CNI plugin, as a container runtime
// does after the pod's network is set up (ADD) and at teardown (DEL).
// Lab pods have no network namespace of their own (their IPs are on the
// node's lo), so one empty network namespace, held by a `sleep` child,
// stands in for the sandboxes: CNI_NETNS must name a namespace other than
// the plugin's (skel checks it), and portmap never enters it on ADD/DEL.
// Its rules go into this node's namespace, where the plugin runs.
type portmapper struct {
	bin     string
	sandbox *exec.Cmd
	mapped  map[string]hostPortPod // key: pod UID
}

func (m *portmapper) close() {
	if m.sandbox != nil && m.sandbox.Process != nil {
		_ = m.sandbox.Process.Kill()
		_ = m.sandbox.Wait()
	}
}

func (m *portmapper) sandboxPath() (string, error) {
	if m.sandbox != nil && m.sandbox.ProcessState == nil {
		p := fmt.Sprintf("/proc/%d/ns/net", m.sandbox.Process.Pid)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	cmd := exec.Command("unshare", "--net", "sleep", "infinity")
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { _ = cmd.Wait() }()
	m.sandbox = cmd
	p := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	// unshare execs sleep once the namespace exists.
	for i := 0; i < 50; i++ {
		if a, err := os.Readlink(p); err == nil {
			if b, err := os.Readlink("/proc/self/ns/net"); err == nil && a != b {
				return p, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("sandbox network namespace not ready")
}

func (m *portmapper) call(cmd string, p hostPortPod) error {
	sandbox, err := m.sandboxPath()
	if err != nil {
		return err
	}
	c := exec.Command(m.bin)
	c.Env = append(os.Environ(),
		"CNI_COMMAND="+cmd,
		"CNI_CONTAINERID="+p.UID,
		"CNI_NETNS="+sandbox,
		"CNI_IFNAME=eth0",
		"CNI_PATH="+filepath.Dir(m.bin),
	)
	c.Stdin = bytes.NewReader(portmapConfig(p, sandbox))
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("portmap %s %s: %v: %s", cmd, p.Pod, err, bytes.TrimSpace(out))
	}
	return nil
}

// reconcile calls DEL for pods gone or changed and ADD for new ones; a
// failed ADD is tried again at the next resync.
func (m *portmapper) reconcile(want []hostPortPod) {
	byUID := map[string]hostPortPod{}
	for _, p := range want {
		byUID[p.UID] = p
	}
	for uid, have := range m.mapped {
		if w, ok := byUID[uid]; ok && w.equal(have) {
			continue
		}
		if err := m.call("DEL", have); err != nil {
			log.Print(err)
		} else {
			log.Printf("pods: portmap DEL %s %v", have.Pod, have.Maps)
		}
		delete(m.mapped, uid)
	}
	for uid, p := range byUID {
		if _, ok := m.mapped[uid]; ok {
			continue
		}
		if err := m.call("ADD", p); err != nil {
			log.Print(err)
			continue
		}
		m.mapped[uid] = p
		log.Printf("pods: portmap ADD %s %s %v", p.Pod, p.IP, p.Maps)
	}
}

// runningPodIPv4 is the IPv4 of a Running pod-network pod that is not
// being deleted (nil otherwise): the pods that get a body and, on portmap
// nodes, their hostPorts.
func runningPodIPv4(p corev1.Pod) net.IP {
	if p.Spec.HostNetwork || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return nil
	}
	ip := net.ParseIP(p.Status.PodIP)
	if ip == nil || ip.To4() == nil {
		return nil
	}
	return ip
}
