package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// cmdFixtures writes the stand-in cilium-dbg's outputs into -out:
//
//   - status.json, status.txt, status-verbose.txt: copied verbatim from the
//     newest release in pkg/interpret/cilium/testdata that has a
//     "kpr-true" scenario. Those files were rendered by that Cilium
//     release's own code (tools/fixturegen).
//   - service-list.json: that release's own service-list.json entry for a
//     ClusterIP Service used as the template, repeated for the
//     `kubernetes` Service and every bench Service with their addresses
//     and IDs filled in, so that the agents' tables match the lab's
//     Services. Field set and layout are upstream's; the values are the
//     lab's.
//   - service-list.txt: copied verbatim (used only by text fallbacks).
//
// It prints the chosen release's version (for the DaemonSet image tag).
func cmdFixtures(args []string) error {
	fs := flag.NewFlagSet("fixtures", flag.ExitOnError)
	src := fs.String("testdata", "pkg/interpret/cilium/testdata", "the committed real-code fixtures")
	out := fs.String("out", "", "directory for the stand-in's outputs")
	services := fs.Int("services", defaultServices, "number of bench Services")
	apiServer := fs.String("apiserver", "127.0.0.1:6443", "the `kubernetes` Service's backend")
	_ = fs.Parse(args)
	if *out == "" {
		return errors.New("fixtures: -out is required")
	}
	dir, version, err := newestFixtureDir(*src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for from, to := range map[string]string{
		"status-kpr-true.json": "status.json", "status-kpr-true.txt": "status.txt",
		"status-kpr-true-verbose.txt": "status-verbose.txt", "service-list.txt": "service-list.txt",
	} {
		b, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, to), b, 0o644); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "service-list.json"))
	if err != nil {
		return err
	}
	api, err := netip.ParseAddrPort(*apiServer)
	if err != nil {
		return fmt.Errorf("-apiserver: %w", err)
	}
	list, err := expandServiceList(raw, *services, api)
	if err != nil {
		return fmt.Errorf("%s/service-list.json: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(*out, "service-list.json"), list, 0o644); err != nil {
		return err
	}
	fmt.Println(version)
	return nil
}

// newestFixtureDir picks the highest vX.Y.Z directory with a kpr-true
// status and a JSON service list.
func newestFixtureDir(src string) (dir, version string, err error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", "", fmt.Errorf("reading the real-code fixtures: %w", err)
	}
	type cand struct {
		name string
		v    [3]int
	}
	var cands []cand
	for _, e := range entries {
		var c cand
		if _, err := fmt.Sscanf(e.Name(), "v%d.%d.%d", &c.v[0], &c.v[1], &c.v[2]); err != nil || !e.IsDir() {
			continue
		}
		_, e1 := os.Stat(filepath.Join(src, e.Name(), "status-kpr-true.json"))
		_, e2 := os.Stat(filepath.Join(src, e.Name(), "service-list.json"))
		if e1 == nil && e2 == nil {
			c.name = e.Name()
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return "", "", fmt.Errorf("no vX.Y.Z directory with status-kpr-true.json and service-list.json in %s", src)
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].v, cands[j].v
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
	best := cands[len(cands)-1]
	return filepath.Join(src, best.name), strings.TrimPrefix(best.name, "v"), nil
}

// expandServiceList takes the first ClusterIP entry with backends of an
// upstream `service list -o json` as the template and returns a list with
// the `kubernetes` Service and n bench Services. Generic maps keep every
// field the release printed, including ones kpr does not know.
func expandServiceList(raw []byte, n int, api netip.AddrPort) ([]byte, error) {
	var entries []map[string]any
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, err
	}
	var tmpl map[string]any
	for _, e := range entries {
		r, _ := dig(e, "status", "realized").(map[string]any)
		flags, _ := r["flags"].(map[string]any)
		bes, _ := r["backend-addresses"].([]any)
		if flags != nil && flags["type"] == "ClusterIP" && len(bes) > 0 {
			tmpl = e
			break
		}
	}
	if tmpl == nil {
		return nil, errors.New("no ClusterIP entry with backends to use as a template")
	}
	out := make([]map[string]any, 0, n+1)
	out = append(out, fill(tmpl, 1, "default", "kubernetes", netip.MustParseAddr("10.96.0.1"), 443, []netip.Addr{api.Addr()}, api.Port()))
	for i, s := range benchServices(n) {
		out = append(out, fill(tmpl, i+2, appsNamespace, s.Name, s.ClusterIP, servicePort, s.Backends, backendPort))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func fill(tmpl map[string]any, id int, ns, name string, fe netip.Addr, port uint16, backends []netip.Addr, bport uint16) map[string]any {
	e := deepCopy(tmpl).(map[string]any)
	for _, part := range []string{"spec", "realized"} {
		var m map[string]any
		if part == "spec" {
			m, _ = e["spec"].(map[string]any)
		} else {
			m, _ = dig(e, "status", "realized").(map[string]any)
		}
		if m == nil {
			continue
		}
		m["id"] = id
		if f, ok := m["frontend-address"].(map[string]any); ok {
			f["ip"], f["port"] = fe.String(), port
		}
		if fl, ok := m["flags"].(map[string]any); ok {
			fl["name"], fl["namespace"] = name, ns
		}
		bes, _ := m["backend-addresses"].([]any)
		if len(bes) == 0 {
			continue
		}
		first := bes[0]
		var nb []any
		for _, b := range backends {
			be := deepCopy(first).(map[string]any)
			be["ip"], be["port"] = b.String(), bport
			nb = append(nb, be)
		}
		m["backend-addresses"] = nb
	}
	return e
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}
