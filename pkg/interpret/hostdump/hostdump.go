// Package hostdump holds what kpr reads from a node's host network
// namespace (its rule dumps and the kube-proxy /proxyMode answer) as plain
// data: the debug pods in pkg/collect/debugpod fill it in, and the
// interpreters read it without depending on how it was collected.
package hostdump

// Section names of a host dump.
const (
	SecIPTablesLegacy  = "iptables-legacy"
	SecIPTablesNFT     = "iptables-nft"
	SecIP6TablesLegacy = "ip6tables-legacy"
	SecIP6TablesNFT    = "ip6tables-nft"
	// SecIPTables / SecIP6Tables hold a plain iptables-save, used only when
	// the host has no -legacy/-nft variants; its backend is in the
	// matching "-version" section ("iptables v1.8.9 (nf_tables)").
	SecIPTables        = "iptables"
	SecIPTablesVersion = "iptables-version"
	SecIP6Tables       = "ip6tables"
	SecNFT             = "nft"
	SecIPVS            = "ipvsadm"
	SecKubeIPVS0       = "kube-ipvs0"
	SecIPSet           = "ipset"
	SecProxyMode       = "proxymode"
	// SecAddresses is `ip -o -4 addr show scope global`: the node's own
	// addresses, whose NodePorts verify's nodeport-every-address probes.
	SecAddresses = "addresses"
)

// Sources of a section's tool.
const (
	SourceChroot  = "chroot /host"
	SourceNsenter = "nsenter -t 1 -m -n"
	SourceImage   = "image"
	SourceMissing = "missing"
	SourceSkipped = "skipped"
)

// Section is one command's output in a host dump.
type Section struct {
	Name string
	// Source is where the tool came from: the host's own binaries
	// (SourceChroot, SourceNsenter), the debug image's, or SourceMissing.
	Source   string
	Stdout   string
	Stderr   string
	ExitCode int
}

// OK reports whether the command ran and succeeded.
func (s Section) OK() bool {
	return s.Source != SourceMissing && s.Source != SourceSkipped && s.ExitCode == 0
}

// Dump is everything read from one node's host network namespace.
type Dump struct {
	// HostAccess is how the host's binaries were reached: SourceChroot,
	// SourceNsenter, or "" when only the image's tools could be used.
	HostAccess string
	Sections   map[string]Section
}

// Get returns a section (the zero Section, Source missing, if absent).
func (d Dump) Get(name string) Section {
	if s, ok := d.Sections[name]; ok {
		return s
	}
	return Section{Name: name, Source: SourceMissing}
}
