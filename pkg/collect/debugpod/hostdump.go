package debugpod

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
)

// The dump's types live in interpret (pkg/interpret/hostdump), which reads
// them without depending on how they were collected; these names keep the
// collector's code short.
type (
	Section = hostdump.Section
	Dump    = hostdump.Dump
)

const (
	SecIPTablesLegacy  = hostdump.SecIPTablesLegacy
	SecIPTablesNFT     = hostdump.SecIPTablesNFT
	SecIP6TablesLegacy = hostdump.SecIP6TablesLegacy
	SecIP6TablesNFT    = hostdump.SecIP6TablesNFT
	SecIPTables        = hostdump.SecIPTables
	SecIPTablesVersion = hostdump.SecIPTablesVersion
	SecIP6Tables       = hostdump.SecIP6Tables
	SecNFT             = hostdump.SecNFT
	SecIPVS            = hostdump.SecIPVS
	SecKubeIPVS0       = hostdump.SecKubeIPVS0
	SecIPSet           = hostdump.SecIPSet
	SecProxyMode       = hostdump.SecProxyMode
	SecAddresses       = hostdump.SecAddresses

	SourceChroot  = hostdump.SourceChroot
	SourceNsenter = hostdump.SourceNsenter
	SourceImage   = hostdump.SourceImage
	SourceMissing = hostdump.SourceMissing
	SourceSkipped = hostdump.SourceSkipped
)

// dumpScript reads the host's rules in one exec. Each tool runs from the
// host (chroot /host, else nsenter into PID 1's mount and net namespaces)
// when the host has it, so that the iptables backend and version match
// what the host's own components use, and from the image otherwise. Every
// section is framed by a marker line carrying a per-run boundary, its
// source and its exit code; stderr is kept apart.
//
// ipvsadm runs only when /proc/net/ip_vs exists: libipvs modprobes ip_vs
// when it is absent, and kpr must not load kernel modules on a node.
// iptables-legacy-save only reads tables that already exist (no -t, which
// would create one).
const dumpScript = `B="$1"; HOSTROOT="${2:-/host}"; NSENTER="${3:-yes}"
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
E=$(mktemp 2>/dev/null || echo /tmp/kpr-dump-err.$$)
H=""; HS=""
if [ -x "$HOSTROOT/bin/sh" ] && chroot "$HOSTROOT" /bin/sh -c true >/dev/null 2>&1; then
  H="chroot $HOSTROOT"; HS="chroot /host"
fi
if [ -z "$H" ] && [ "$NSENTER" = yes ] && nsenter -t 1 -m -n -- /bin/sh -c true >/dev/null 2>&1; then H="nsenter -t 1 -m -n --"; HS="nsenter -t 1 -m -n"; fi
echo "$B host $HS"
onhost() { [ -n "$H" ] && $H /bin/sh -c "command -v $1" >/dev/null 2>&1; }
inimage() { command -v "$1" >/dev/null 2>&1; }
run() { n=$1; s=$2; shift 2
  echo "$B begin $n $s"
  "$@" 2>"$E"; rc=$?
  echo; echo "$B stderr $n"; cat "$E" 2>/dev/null
  echo; echo "$B end $n $rc"; }
missing() { echo "$B begin $1 missing"; echo; echo "$B stderr $1"; echo "$2"; echo "$B end $1 127"; }
skipped() { echo "$B begin $1 skipped"; echo; echo "$B stderr $1"; echo "$2"; echo "$B end $1 0"; }
# tool SECTION [host|image] BINARY ARGS...: the preferred place first.
tool() { n=$1; pref=$2; t=$3; shift 3
  if [ "$pref" = host ] && onhost "$t"; then run "$n" "$HS" $H "$t" "$@"
  elif inimage "$t"; then run "$n" image "$t" "$@"
  elif [ "$pref" != host ] && onhost "$t"; then run "$n" "$HS" $H "$t" "$@"
  else missing "$n" "$t not found on the host or in the image"; fi; }
for f in "" 6; do
  have=""
  for b in legacy nft; do
    if onhost ip${f}tables-$b-save || inimage ip${f}tables-$b-save; then
      tool ip${f}tables-$b host ip${f}tables-$b-save; have=1
    fi
  done
  if [ -z "$have" ]; then
    tool ip${f}tables host ip${f}tables-save
    [ -z "$f" ] && tool iptables-version host iptables-save --version
  fi
done
tool nft host nft list ruleset
if [ -e /proc/net/ip_vs ]; then tool ipvsadm host ipvsadm -Ln
else skipped ipvsadm "ip_vs is not loaded (/proc/net/ip_vs absent): no IPVS services"; fi
tool kube-ipvs0 host ip -d link show kube-ipvs0
tool ipset host ipset list -n
tool addresses host ip -o -4 addr show scope global
tool proxymode image curl -s --max-time 2 http://127.0.0.1:10249/proxyMode
rm -f "$E"
`

// DumpCommand returns the exec command that prints a host dump framed by
// boundary, reading the host through HostMount or PID 1.
func DumpCommand(boundary string) []string {
	return []string{"sh", "-c", dumpScript, "kpr-dump", boundary, HostMount, "yes"}
}

// ReadHost runs the dump script in p and parses its output.
func ReadHost(ctx context.Context, p *Pod) (Dump, error) {
	boundary := "@@kpr-" + NewRunID() + NewRunID()
	res, err := p.Exec(ctx, DumpCommand(boundary))
	if err != nil {
		return Dump{}, err
	}
	return ParseDump(res, boundary)
}

// ParseDump splits the script's output into sections. Our own framing, so
// no library applies; it never panics on truncated or foreign input. The
// sections are substrings of one copy of the output: a node with 100k
// rules dumps tens of MB, which must not be copied line by line.
func ParseDump(res collect.ExecResult, boundary string) (Dump, error) {
	d := Dump{Sections: map[string]Section{}}
	text := string(res.Stdout)
	marker := boundary + " "
	var cur *Section
	outStart, errStart := 0, -1
	sawHost := false
	for pos := 0; pos < len(text); {
		next := len(text)
		line := text[pos:]
		if nl := strings.IndexByte(line, '\n'); nl >= 0 {
			line, next = line[:nl], pos+nl+1
		}
		if !strings.HasPrefix(line, marker) {
			pos = next
			continue
		}
		f := strings.Fields(line[len(marker):])
		switch {
		case len(f) == 0:
		case f[0] == "host":
			sawHost = true
			d.HostAccess = strings.Join(f[1:], " ")
		case f[0] == "begin" && len(f) >= 3:
			cur = &Section{Name: f[1], Source: strings.Join(f[2:], " ")}
			outStart, errStart = next, -1
		case f[0] == "stderr" && cur != nil && errStart < 0:
			cur.Stdout = text[outStart:pos]
			errStart = next
		case f[0] == "end" && cur != nil:
			if errStart < 0 {
				cur.Stdout = text[outStart:pos]
			} else {
				cur.Stderr = strings.TrimSpace(text[errStart:pos])
			}
			if len(f) >= 3 {
				cur.ExitCode, _ = strconv.Atoi(f[2])
			}
			// run() adds one newline before each marker so that output
			// without a trailing newline still ends its own line.
			cur.Stdout = strings.TrimSuffix(cur.Stdout, "\n")
			d.Sections[cur.Name] = *cur
			cur = nil
		}
		pos = next
	}
	if !sawHost {
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit code %d, no output", res.ExitCode)
		}
		return d, fmt.Errorf("the debug pod could not run the dump script: %s", firstLine(msg))
	}
	if cur != nil {
		return d, fmt.Errorf("host dump truncated inside section %s", cur.Name)
	}
	return d, nil
}
