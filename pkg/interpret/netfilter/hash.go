package netfilter

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Chain-name prefixes kube-proxy's iptables mode gives per-Service chains
// (k/k pkg/proxy/iptables/proxier.go).
const (
	PrefixSVC = "KUBE-SVC-" // cluster traffic policy
	PrefixSVL = "KUBE-SVL-" // local traffic policy
	PrefixEXT = "KUBE-EXT-" // NodePort / LoadBalancer / externalIP entry
	PrefixFW  = "KUBE-FW-"  // loadBalancerSourceRanges firewall
	PrefixSEP = "KUBE-SEP-" // one endpoint
)

// ServiceChainName returns the chain kube-proxy's iptables mode uses for a
// service port: prefix + the first 16 characters of
// base32(sha256(svcPortName + protocol)), as servicePortChainName and
// portProtoHash do in k/k pkg/proxy/iptables/proxier.go. svcPortName is
// "<ns>/<name>" plus ":<portName>" only when the port is named
// (k/k pkg/proxy/types.go ServicePortName.String); protocol is lower-cased
// ("tcp", "udp", "sctp") as kube-proxy does.
func ServiceChainName(prefix, svcPortName, protocol string) string {
	sum := sha256.Sum256([]byte(svcPortName + strings.ToLower(protocol)))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

// SplitServicePortName splits "ns/name:port" (or "ns/name") into its parts.
func SplitServicePortName(s string) (namespace, name, port string, ok bool) {
	ns, rest, found := strings.Cut(s, "/")
	if !found || ns == "" || rest == "" {
		return "", "", "", false
	}
	name, port, _ = strings.Cut(rest, ":")
	if name == "" || strings.ContainsAny(name, " /") || strings.ContainsAny(ns, " ") {
		return "", "", "", false
	}
	return ns, name, port, true
}

// ParseNFTServiceChain reads kube-proxy's nftables chain names
// "<kind>-<HASH8>-<ns>/<name>/<proto>/<portName>" (k/k
// pkg/proxy/nftables/proxier.go servicePortChainNameBase) for the service
// kinds (service, local, external, firewall). Endpoint chains
// ("endpoint-...__<ip>/<port>") and everything else return ok=false.
func ParseNFTServiceChain(chain string) (kind, svcPortName, protocol string, ok bool) {
	kind, rest, found := strings.Cut(chain, "-")
	if !found {
		return "", "", "", false
	}
	switch kind {
	case "service", "local", "external", "firewall":
	default:
		return "", "", "", false
	}
	hash, rest, found := strings.Cut(rest, "-")
	if !found || len(hash) != 8 {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	svcPortName = parts[0] + "/" + parts[1]
	if parts[3] != "" {
		svcPortName += ":" + parts[3]
	}
	return kind, svcPortName, parts[2], true
}
