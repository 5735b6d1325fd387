// Package netfilter reads what a node's packet filter says about Service
// handling: `iptables-save` / `ip6tables-save` (legacy and nf_tables
// flavours, with or without -c counters, several dumps in one input),
// `nft list ruleset` (text and -j JSON) and `ipvsadm -Ln`. Each parser
// streams its input line by line (or token by token for JSON) and folds it
// into a Summary: the chains that show kube-proxy, Cilium or another
// replacement at work, rule and chain counts, and the Services behind
// kube-proxy's hashed chain names. It is pure: readers in, plain structs out.
//
// Why hand-written parsers: no maintained Go package reads these texts.
// github.com/coreos/go-iptables and sigs.k8s.io/knftables drive the
// binaries (knftables' Fake.ParseDump only reads knftables' own `add ...`
// transaction syntax for one table, not `nft list ruleset`);
// github.com/google/nftables talks netlink to a live kernel; the
// iptables-save parser in k8s.io/kubernetes/pkg/util/iptables/testing
// lives in the main k/k module (which cannot be required without
// re-declaring its ~30 staging replaces), keeps every rule in memory and
// rejects the built-in chains' policies, the counters and repeated dumps
// that real node dumps carry. The formats here follow iptables'
// iptables-save.c / nft's listing and kube-proxy's own writers (k/k
// pkg/proxy/iptables/proxier.go, pkg/proxy/nftables/proxier.go).
package netfilter
