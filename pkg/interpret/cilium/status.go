package cilium

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// statusJSON mirrors the parts of api/v1/models.StatusResponse that kpr
// reads, across 1.10–1.20. Every "enabled" is omitempty upstream: absent
// means false, which is what the zero value gives.
type statusJSON struct {
	Cilium      *stateJSON `json:"cilium"`
	Kubernetes  *stateJSON `json:"kubernetes"`
	Kvstore     *stateJSON `json:"kvstore"`
	KPR         *kprJSON   `json:"kube-proxy-replacement"`
	CNIChaining *struct {
		Mode string `json:"mode"`
	} `json:"cni-chaining"`
}

type stateJSON struct {
	State string `json:"state"`
	Msg   string `json:"msg"`
}

type enabledJSON struct {
	Enabled bool `json:"enabled"`
}

type kprJSON struct {
	Mode       string   `json:"mode"`
	Devices    []string `json:"devices"`
	DeviceList []struct {
		Name string   `json:"name"`
		IP   []string `json:"ip"`
	} `json:"deviceList"`
	DirectRoutingDevice string `json:"directRoutingDevice"`
	Features            struct {
		NodePort struct {
			Enabled      bool   `json:"enabled"`
			Mode         string `json:"mode"`
			Acceleration string `json:"acceleration"`
			PortMin      int64  `json:"portMin"`
			PortMax      int64  `json:"portMax"`
		} `json:"nodePort"`
		HostPort              enabledJSON `json:"hostPort"`
		ExternalIPs           enabledJSON `json:"externalIPs"`
		SocketLB              enabledJSON `json:"socketLB"`
		HostReachableServices enabledJSON `json:"hostReachableServices"`
		BpfSocketLBHostnsOnly bool        `json:"bpfSocketLBHostnsOnly"`
	} `json:"features"`
}

// ParseStatusJSON reads `cilium status -o json`. With several documents
// pasted one after another, the last complete one wins.
func ParseStatusJSON(b []byte) (*Status, error) {
	b = normalizeInput(b)
	var doc statusJSON
	var lastErr error
	ok := lastJSONDocument(b, '{', func(dec *json.Decoder) bool {
		var d statusJSON
		if err := dec.Decode(&d); err != nil {
			lastErr = err
			return false
		}
		if d.KPR == nil && d.Cilium == nil && d.Kvstore == nil {
			return false
		}
		doc = d
		return true
	})
	if !ok {
		msg := `cilium status JSON: expected a JSON object with "kube-proxy-replacement" or "cilium" keys (output of "cilium-dbg status -o json"), found none`
		if lastErr != nil {
			return nil, fmt.Errorf("%s; last decode error: %w", msg, lastErr)
		}
		return nil, errors.New(msg)
	}
	st := &Status{Format: "json"}
	if doc.Cilium != nil {
		st.CiliumState = doc.Cilium.State
		st.Version = versionFromMsg(doc.Cilium.Msg)
	}
	if doc.Kubernetes != nil {
		st.KubernetesState = doc.Kubernetes.State
	}
	if doc.CNIChaining != nil {
		st.CNIChaining = doc.CNIChaining.Mode
	}
	if k := doc.KPR; k != nil {
		kpr := &KPR{Mode: k.Mode, ReplacesKubeProxy: Replacement(k.Mode), Devices: []Device{}}
		for _, d := range k.DeviceList {
			if d.Name == "" {
				continue
			}
			dev := Device{Name: d.Name, Addresses: []string{}, DirectRouting: d.Name != "" && d.Name == k.DirectRoutingDevice}
			// 1.15+ pads the list with one "" per address before the
			// addresses themselves (daemon/cmd/status.go).
			for _, ip := range d.IP {
				if ip != "" {
					dev.Addresses = append(dev.Addresses, ip)
				}
			}
			kpr.Devices = append(kpr.Devices, dev)
		}
		// Agents that fill only the legacy name list.
		if len(k.DeviceList) == 0 {
			for _, name := range k.Devices {
				if name == "" {
					continue
				}
				kpr.Devices = append(kpr.Devices, Device{Name: name, Addresses: []string{}, DirectRouting: name == k.DirectRoutingDevice})
			}
		}
		f := k.Features
		kpr.NodePort = boolPtr(f.NodePort.Enabled)
		if f.NodePort.Enabled {
			kpr.NodePortMode = f.NodePort.Mode
			kpr.XDPAcceleration = f.NodePort.Acceleration
			if f.NodePort.PortMin != 0 || f.NodePort.PortMax != 0 {
				kpr.NodePortRange = fmt.Sprintf("%d-%d", f.NodePort.PortMin, f.NodePort.PortMax)
			}
		}
		kpr.HostPort = boolPtr(f.HostPort.Enabled)
		kpr.ExternalIPs = boolPtr(f.ExternalIPs.Enabled)
		// Socket LB was "host reachable services" up to 1.12.
		kpr.SocketLB = boolPtr(f.SocketLB.Enabled || f.HostReachableServices.Enabled)
		kpr.SocketLBHostnsOnly = boolPtr(f.BpfSocketLBHostnsOnly)
		kpr.ReplacesKubeProxy = ReplacementOf(kpr)
		st.KubeProxyReplacement = kpr
	}
	return st, nil
}

func boolPtr(b bool) *bool { return &b }

// versionRe finds the version at the start of the cilium message,
// "1.16.5 (v1.16.5-abcdef)" (daemon/cmd/status.go ciliumVer).
var versionRe = regexp.MustCompile(`^\s*v?(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)`)

func versionFromMsg(msg string) string {
	if m := versionRe.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// topLevelRe matches a "Key:<pad>value" line of the status text.
// FormatStatusResponse pads with a tabwriter, so widths vary: match on the
// key and whitespace only.
var topLevelRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9 /()-]*?):\s*(.*)$`)

// detailKeys are the line labels of the "KubeProxyReplacement Details"
// block (pkg/client/client.go, 1.10–1.20). They let a block whose
// indentation was lost in a paste still be recognised.
var detailKeys = map[string]bool{
	"status": true, "socket lb": true, "socket lb tracing": true, "socket lb coverage": true,
	"socket lb protocols": true, "protocols": true, "devices": true, "mode": true,
	"dsr dispatch mode": true, "backend selection": true, "session affinity": true,
	"graceful termination": true, "nat46/64 support": true, "gateway": true, "prefixes": true,
	"xdp acceleration": true, "services": true, "clusterip": true, "nodeport": true,
	"loadbalancer": true, "externalips": true, "hostport": true, "annotations": true,
}

// statusText accumulates one text listing.
type statusText struct {
	seen          map[string]bool
	st            Status
	kprLine       *KPR // from the "KubeProxyReplacement:" line
	details       *KPR // from the "KubeProxyReplacement Details:" block
	inDetails     bool
	detailsIndent int
	detailsMode   string
}

func newStatusText() *statusText {
	return &statusText{seen: map[string]bool{}, st: Status{Format: "text"}}
}

// ParseStatusText reads the text of `cilium status` (plain or --verbose)
// or the "KubeProxyReplacement Details:" block alone. A key that repeats
// starts a new listing: the last listing wins.
func ParseStatusText(b []byte) (*Status, error) {
	cur := newStatusText()
	for _, line := range splitLines(normalizeInput(b)) {
		cur = cur.feed(line)
	}
	if cur.kprLine == nil && cur.details == nil && cur.st.CiliumState == "" && cur.st.CNIChaining == "" {
		return nil, errors.New(`cilium status text: expected a "KubeProxyReplacement:" line, a "KubeProxyReplacement Details:" block or a "Cilium:" line (output of "cilium-dbg status [--verbose]")`)
	}
	return cur.finish(), nil
}

// feed consumes one line and returns the listing it belongs to (a fresh
// one when the line starts another listing).
func (s *statusText) feed(line string) *statusText {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		return s
	}
	// Indentation is relative: a whole listing may be indented (quoted in
	// an email, a markdown code block), or stripped by a chat tool.
	indent := len(line) - len(strings.TrimLeft(line, " \t"))
	if s.inDetails {
		if indent > s.detailsIndent || s.isDetailLine(trimmed) {
			s.detailLine(trimmed)
			return s
		}
		s.inDetails = false
	}
	if trimmed == "KubeProxyReplacement Details:" {
		s = s.restartIfSeen("details")
		s.details = &KPR{}
		s.inDetails = true
		s.detailsIndent = indent
		return s
	}
	// Only the keys below are used; other sections' indented lines never
	// carry them.
	m := topLevelRe.FindStringSubmatch(trimmed)
	if m == nil {
		return s
	}
	key, val := m[1], strings.TrimSpace(m[2])
	switch key {
	case "KVStore":
		s = s.restartIfSeen(key)
	case "Kubernetes":
		s = s.restartIfSeen(key)
		s.st.KubernetesState = firstField(val)
	case "KubeProxyReplacement":
		s = s.restartIfSeen(key)
		s.kprLine = parseKPRLine(val)
	case "CNI Chaining":
		s = s.restartIfSeen(key)
		s.st.CNIChaining = firstField(val)
	case "Cilium":
		s = s.restartIfSeen(key)
		state, rest := cutField(val)
		s.st.CiliumState = state
		s.st.Version = versionFromMsg(rest)
	}
	return s
}

// isDetailLine tells whether an unindented line still belongs to the
// details block (the paste lost its indentation).
func (s *statusText) isDetailLine(line string) bool {
	key, _, ok := strings.Cut(line, ":")
	if !ok {
		return false
	}
	key = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(key), "- "))
	return detailKeys[strings.ToLower(key)]
}

func (s *statusText) restartIfSeen(key string) *statusText {
	if s.seen[key] {
		s = newStatusText()
	}
	s.seen[key] = true
	return s
}

// detailLine reads one line of the details block, already trimmed.
func (s *statusText) detailLine(line string) {
	key, val, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	key = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(key), "- "))
	val = strings.TrimSpace(val)
	d := s.details
	switch strings.ToLower(key) {
	case "status":
		s.detailsMode = firstField(val)
	case "socket lb":
		d.SocketLB = boolPtr(val == "Enabled")
	case "socket lb protocols", "protocols":
		// 1.10–1.12 print this only when socket LB is on.
		d.SocketLB = boolPtr(true)
	case "socket lb coverage":
		d.SocketLBHostnsOnly = boolPtr(strings.EqualFold(val, "Hostns-only"))
	case "devices":
		d.Devices = parseDeviceList(val)
	case "mode":
		d.NodePortMode = val
	case "xdp acceleration":
		d.XDPAcceleration = val
	case "nodeport":
		on := strings.HasPrefix(val, "Enabled")
		d.NodePort = boolPtr(on)
		if m := rangeRe.FindStringSubmatch(val); m != nil {
			d.NodePortRange = m[1]
		}
	case "hostport":
		d.HostPort = boolPtr(strings.HasPrefix(val, "Enabled"))
	case "externalips":
		d.ExternalIPs = boolPtr(strings.HasPrefix(val, "Enabled"))
	}
}

var rangeRe = regexp.MustCompile(`\(Range: (\d+-\d+)\)`)

// finish merges the KPR line and the details block: the line gives the
// mode and devices, the block the features.
func (s *statusText) finish() *Status {
	st := s.st
	var kpr *KPR
	switch {
	case s.kprLine != nil:
		kpr = s.kprLine
		if s.details != nil {
			mergeDetails(kpr, s.details)
			if len(kpr.Devices) == 0 && len(s.details.Devices) > 0 {
				kpr.Devices = s.details.Devices
			}
		}
	case s.details != nil:
		kpr = s.details
		kpr.Mode = s.detailsMode
		if kpr.Devices == nil {
			kpr.Devices = []Device{}
		}
	}
	if s.details != nil && kpr.SocketLB == nil {
		// 1.10–1.11 print "Socket LB Protocols" only when it is on; 1.12+
		// always print "Socket LB:". Neither line means off.
		kpr.SocketLB = boolPtr(false)
	}
	if kpr != nil {
		kpr.ReplacesKubeProxy = ReplacementOf(kpr)
	}
	st.KubeProxyReplacement = kpr
	return &st
}

// mergeDetails lays the details block's features over the KPR line's
// (1.7 and 1.8 print features on the line, 1.9+ only in the block; no
// release prints both). What the block does not say stays as it was.
func mergeDetails(dst, src *KPR) {
	for _, f := range []struct{ d, s **bool }{
		{&dst.SocketLB, &src.SocketLB}, {&dst.SocketLBHostnsOnly, &src.SocketLBHostnsOnly},
		{&dst.NodePort, &src.NodePort}, {&dst.HostPort, &src.HostPort}, {&dst.ExternalIPs, &src.ExternalIPs},
	} {
		if *f.s != nil {
			*f.d = *f.s
		}
	}
	for _, f := range []struct{ d, s *string }{
		{&dst.NodePortMode, &src.NodePortMode}, {&dst.NodePortRange, &src.NodePortRange}, {&dst.XDPAcceleration, &src.XDPAcceleration},
	} {
		if *f.s != "" {
			*f.d = *f.s
		}
	}
}

func firstField(s string) string {
	f, _ := cutField(s)
	return f
}

// cutField splits off the first whitespace-separated field.
func cutField(s string) (string, string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.TrimSpace(s[i:])
	}
	return s, ""
}
