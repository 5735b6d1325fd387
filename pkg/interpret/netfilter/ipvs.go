package netfilter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseIPVSAdm reads `ipvsadm -Ln` (ipvsadm's print_title and
// print_service_entry): a service line "<PROT>  <vip>:<port> <sched>[ flags]"
// (PROT TCP, UDP, SCTP or FWM), then one "  -> <ip>:<port> <fwd> <weight>
// <active> <inactive>" line per real server. In kube-proxy's ipvs mode
// every ClusterIP, NodePort and LoadBalancer address is a virtual service.
func ParseIPVSAdm(r io.Reader) (*Summary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	b := newBuilder("ipvsadm")
	ipvs := &IPVS{}
	header := false
	var cur *IPVSVirtualSvc
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case strings.HasPrefix(line, "IP Virtual Server version"):
			header = true
			b.info.Header = line
		case f[0] == "Prot" || (f[0] == "->" && len(f) > 1 && strings.HasPrefix(f[1], "RemoteAddress")):
			header = true
		case f[0] == "->" && len(f) >= 2:
			ipvs.RealServers++
			if cur != nil {
				cur.Backends = append(cur.Backends, f[1])
			}
		case isIPVSProto(f[0]) && len(f) >= 2:
			ipvs.VirtualServices++
			svc := IPVSVirtualSvc{Protocol: f[0], Address: f[1], Backends: []string{}}
			if len(f) >= 3 {
				svc.Scheduler = f[2]
			}
			if strings.HasPrefix(f[1], "[") {
				b.sawV6 = true
			} else {
				b.sawV4 = true
			}
			ipvs.Services = append(ipvs.Services, svc)
			cur = &ipvs.Services[len(ipvs.Services)-1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ipvsadm output: %w", err)
	}
	if !header && ipvs.VirtualServices == 0 {
		return nil, errors.New(`no ipvsadm listing found (want "IP Virtual Server version ..." and "TCP  <vip>:<port> rr" lines)`)
	}
	b.info.Rules = ipvs.VirtualServices
	b.ipvs = ipvs
	return merge([]*builder{b}), nil
}

func isIPVSProto(s string) bool {
	switch s {
	case "TCP", "UDP", "SCTP", "FWM":
		return true
	}
	return false
}
