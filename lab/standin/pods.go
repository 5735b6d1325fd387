package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
		cancel()
		if err != nil {
			log.Printf("pods: %v", err)
		} else {
			reconcilePods(node, podEndpoints(list.Items), served)
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
		if p.Spec.HostNetwork || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		ip := net.ParseIP(p.Status.PodIP)
		if ip == nil || ip.To4() == nil {
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
