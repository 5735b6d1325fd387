package cilium

import (
	"net/netip"
	"regexp"
	"strings"
)

// The "KubeProxyReplacement:" line of `cilium status`, as
// pkg/client/client.go FormatStatusResponse printed it release by
// release (checked against the source at v1.7.0-rc4, v1.7.0, v1.8.0-rc1,
// v1.8.0-rc2, v1.8.0, v1.8.1, v1.9.0-rc1, v1.9.0, v1.9.1, v1.10.0-rc0,
// v1.10.0 and v1.18.8; the first form from cilium/cilium#10059):
//
//	1.7 development builds   Strict   [NodePort, ExternalIPs, HostReachableServicesTCP, HostReachableServicesUDP]
//	v1.7                     Strict   [NodePort (SNAT, 30000-32767), ExternalIPs, HostReachableServices (TCP, UDP)]
//	v1.8.0-rc1, -rc2         Strict   (eth0, eth1)   [NodePort (SNAT, 30000-32767, XDP: NONE), HostPort, ExternalIPs, HostReachableServices (TCP, UDP)]
//	v1.8                     Strict   [eth0 (DR), eth1]   [NodePort (SNAT, 30000-32767, XDP: DISABLED), HostPort, ExternalIPs, HostReachableServices (TCP, UDP), SessionAffinity]
//	v1.9                     Strict   [eth0 (Direct Routing), eth1]
//	v1.10 and later          True   [eth0 10.0.0.11 fd00::11 (Direct Routing), eth1 192.168.50.11]
//
// 1.7 and 1.8 list the enabled features on the line (those not listed are
// off); 1.9 and later list only devices and leave the features to the
// "KubeProxyReplacement Details" block of --verbose.

// kprGroup is one bracketed group after the mode: "[...]" or "(...)".
type kprGroup struct {
	open byte
	body string
}

// kprGroups cuts the text after the mode into its top-level bracketed
// groups, brackets nesting ("(SNAT, …)" inside a feature list, a
// "[REDACTED]" placeholder inside a device list). A paste cut short loses
// the closing bracket: the last group then runs to the end.
func kprGroups(s string) []kprGroup {
	var out []kprGroup
	depth, start := 0, -1
	var open byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '[', '(':
			if depth == 0 {
				open, start = c, i+1
			}
			depth++
		case ']', ')':
			if depth == 0 {
				continue
			}
			depth--
			if depth == 0 {
				out = append(out, kprGroup{open: open, body: s[start:i]})
				start = -1
			}
		}
	}
	if start >= 0 {
		out = append(out, kprGroup{open: open, body: s[start:]})
	}
	return out
}

// splitTop splits s on commas outside brackets.
func splitTop(s string) []string {
	var out []string
	depth, from := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(':
			depth++
		case ']', ')':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, s[from:i])
				from = i + 1
			}
		}
	}
	return append(out, s[from:])
}

// kprFeatureWords are the feature names 1.7 and 1.8 print on the line.
var kprFeatureWords = map[string]bool{
	"NodePort": true, "HostPort": true, "ExternalIPs": true, "SessionAffinity": true,
	"HostReachableServices": true, "HostReachableServicesTCP": true, "HostReachableServicesUDP": true,
}

func featureName(item string) string {
	item = strings.TrimSpace(item)
	if i := strings.IndexAny(item, " ("); i >= 0 {
		item = item[:i]
	}
	return item
}

// isFeatureList tells a 1.7/1.8 feature list from a device list by its
// first entry (the last one may be cut short by a truncated paste): no
// device is named after a feature.
func isFeatureList(body string) bool {
	return kprFeatureWords[featureName(splitTop(body)[0])]
}

// parseKPRLine reads the value of a "KubeProxyReplacement:" line.
func parseKPRLine(val string) *KPR {
	mode, rest := cutField(val)
	kpr := &KPR{Mode: mode, Devices: []Device{}}
	groups := kprGroups(rest)
	devicesSeen := false
	for i, g := range groups {
		last := i == len(groups)-1
		switch {
		case g.open == '(':
			// 1.8.0-rc: "(eth0, eth1)", names only.
			kpr.Devices = parseDeviceList(g.body)
			devicesSeen = true
		case isFeatureList(g.body), strings.TrimSpace(g.body) == "" && last:
			// An empty last group is an empty feature list: 1.7's
			// "Disabled   []", 1.8's "[eth0 (DR)]   []". 1.9+ print no
			// brackets at all without devices.
			parseFeatureList(kpr, g.body, devicesSeen)
		default:
			kpr.Devices = parseDeviceList(g.body)
			devicesSeen = true
		}
	}
	return kpr
}

// parseFeatureList reads 1.7/1.8's enabled features. A feature not listed
// is off; HostPort is reported only by releases that list devices too
// (1.8: 1.7's model has no HostPort).
func parseFeatureList(kpr *KPR, body string, withDevices bool) {
	kpr.NodePort, kpr.ExternalIPs, kpr.SocketLB = boolPtr(false), boolPtr(false), boolPtr(false)
	if withDevices {
		kpr.HostPort = boolPtr(false)
	}
	for _, item := range splitTop(body) {
		item = strings.TrimSpace(item)
		switch name := featureName(item); name {
		case "NodePort":
			kpr.NodePort = boolPtr(true)
			// "NodePort (SNAT, 30000-32767, XDP: DISABLED)"; the 1.7
			// development builds print "NodePort" alone.
			if g := kprGroups(strings.TrimPrefix(item, name)); len(g) > 0 {
				for j, arg := range splitTop(g[0].body) {
					arg = strings.TrimSpace(arg)
					switch {
					case strings.HasPrefix(arg, "XDP:"):
						kpr.XDPAcceleration = strings.TrimSpace(strings.TrimPrefix(arg, "XDP:"))
					case portRangeRe.MatchString(arg):
						kpr.NodePortRange = arg
					case j == 0:
						kpr.NodePortMode = arg
					}
				}
			}
		case "HostPort":
			kpr.HostPort = boolPtr(true)
		case "ExternalIPs":
			kpr.ExternalIPs = boolPtr(true)
		case "HostReachableServices", "HostReachableServicesTCP", "HostReachableServicesUDP":
			// Host-reachable services is socket LB's name up to 1.12;
			// "(TCP, UDP)" are the protocols it covers.
			kpr.SocketLB = boolPtr(true)
		}
	}
}

var portRangeRe = regexp.MustCompile(`^\d+-\d+$`)

// parseDeviceList reads a device list without its brackets:
// "dev ip ip (Direct Routing), dev2 ip" (1.10+), "dev (Direct Routing),
// dev2" (1.9), "dev (DR), dev2" (1.8), "dev, dev2" (1.8.0-rc).
//
// Entries that start with an address or a redaction placeholder are not
// devices: pasted into public issues, addresses get replaced by
// "<PUBLIC_NODE_IP>", "x.x.x.x", "[REDACTED]" and the like, sometimes
// with an extra comma ("enp1s0 fe80::1 , <PUBLIC_NODE_IP>, dummy0 …"), so
// such an entry continues the device before it. Which device is the
// direct-routing one is read as printed, whatever its kind (a dummy0 or
// cilium_host is as good as a NIC). Empty entries come from the stray ", "
// the formatter adds when the legacy and new device lists differ in
// length; the extra spaces of 1.15+'s empty-address padding vanish in
// strings.Fields.
func parseDeviceList(s string) []Device {
	devs := []Device{}
	for _, entry := range splitTop(s) {
		entry = strings.TrimSpace(entry)
		direct := false
		for _, mark := range []string{"(Direct Routing)", "(DR)"} {
			if e, ok := strings.CutSuffix(entry, mark); ok {
				entry, direct = strings.TrimSpace(e), true
				break
			}
		}
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		if !isDeviceName(fields[0]) {
			if len(devs) > 0 {
				prev := &devs[len(devs)-1]
				prev.Addresses = append(prev.Addresses, fields...)
				prev.DirectRouting = prev.DirectRouting || direct
			}
			continue
		}
		devs = append(devs, Device{Name: fields[0], Addresses: append([]string{}, fields[1:]...), DirectRouting: direct})
	}
	return devs
}

// ipv4Placeholder matches "x.x.x.x", "xxx.xxx.xxx.xxx", "10.0.x.x",
// "*.*.*.*": an IPv4 address with digits blanked out.
var ipv4Placeholder = regexp.MustCompile(`^[0-9xX*]{1,3}(\.[0-9xX*]{1,3}){3}(/\d+)?$`)

// isDeviceName tells an interface name from an address or a redaction
// placeholder. Linux names are at most 15 bytes without '/', ':' or
// blanks (dev_valid_name); placeholders are bracketed or starred.
func isDeviceName(s string) bool {
	if s == "" || len(s) > 15 || strings.ContainsAny(s, "/:<>[]{}*…") {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	if ipv4Placeholder.MatchString(s) {
		return false
	}
	switch strings.ToLower(strings.Trim(s, "._-")) {
	case "redacted", "hidden", "masked", "removed", "snip", "xxx", "xxxx":
		return false
	}
	return true
}
