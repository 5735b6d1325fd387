package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// deploy/rbac.yaml, checked statically and on the lab. The lab's restricted
// identities (lab/lab.sh: static tokens, no groups, no bindings of their
// own) and their contexts in the lab's kubeconfig:
const (
	readerUser, readerContext       = "kpr-reader", "kpr-lab-reader"
	inspectorUser, inspectorContext = "kpr-inspector", "kpr-lab-inspector"
)

type rbacFile struct {
	clusterRoles map[string]rbacv1.ClusterRole
	roles        map[string]rbacv1.Role
	crbs         []rbacv1.ClusterRoleBinding
	rbs          []rbacv1.RoleBinding
}

func readRBAC(t *testing.T) rbacFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := rbacFile{clusterRoles: map[string]rbacv1.ClusterRole{}, roles: map[string]rbacv1.Role{}}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("deploy/rbac.yaml: %v", err)
		}
		var into any
		switch head.Kind {
		case "":
			continue // the leading comment block
		case "ClusterRole":
			into = &rbacv1.ClusterRole{}
		case "Role":
			into = &rbacv1.Role{}
		case "ClusterRoleBinding":
			into = &rbacv1.ClusterRoleBinding{}
		case "RoleBinding":
			into = &rbacv1.RoleBinding{}
		default:
			t.Fatalf("deploy/rbac.yaml holds a %s: only roles and their bindings belong there", head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("deploy/rbac.yaml %s: %v", head.Kind, err)
		}
		switch o := into.(type) {
		case *rbacv1.ClusterRole:
			f.clusterRoles[o.Name] = *o
		case *rbacv1.Role:
			f.roles[o.Name] = *o
		case *rbacv1.ClusterRoleBinding:
			f.crbs = append(f.crbs, *o)
		case *rbacv1.RoleBinding:
			f.rbs = append(f.rbs, *o)
		}
	}
	return f
}

// grants reports whether rules allow verb on group/resource (exact match:
// the file must not use wildcards anyway).
func grants(rules []rbacv1.PolicyRule, verb, group, resource string) bool {
	for _, r := range rules {
		if slices.Contains(r.Verbs, verb) && slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) {
			return true
		}
	}
	return false
}

// Static: the file grants what docs/permissions.md says, and nothing more.
// Runs without the lab.
func TestRBACFileIsLeastPrivilege(t *testing.T) {
	f := readRBAC(t)
	for _, name := range []string{"kpr-reader", "kpr-inspector"} {
		if _, ok := f.clusterRoles[name]; !ok {
			t.Errorf("no ClusterRole %s", name)
		}
		if r, ok := f.roles[name]; !ok || r.Namespace != "kube-system" {
			t.Errorf("no Role %s in kube-system", name)
		}
	}
	if len(f.clusterRoles) != 2 || len(f.roles) != 2 {
		t.Errorf("%d ClusterRoles and %d Roles, want exactly kpr-reader and kpr-inspector of each", len(f.clusterRoles), len(f.roles))
	}

	readVerbs := []string{"get", "list", "watch"}
	for name, cr := range f.clusterRoles {
		for _, r := range cr.Rules {
			for _, v := range r.Verbs {
				if !slices.Contains(readVerbs, v) {
					t.Errorf("ClusterRole %s grants %q on %v: cluster-wide rules must be read-only", name, v, r.Resources)
				}
			}
		}
	}
	all := map[string][]rbacv1.PolicyRule{}
	for n, cr := range f.clusterRoles {
		all["ClusterRole "+n] = cr.Rules
	}
	for n, r := range f.roles {
		all["Role "+n] = r.Rules
	}
	for name, rules := range all {
		for _, r := range rules {
			for _, list := range [][]string{r.Verbs, r.APIGroups, r.Resources} {
				if slices.Contains(list, "*") {
					t.Errorf("%s uses a wildcard: %+v", name, r)
				}
			}
			for _, res := range r.Resources {
				if res == "secrets" || strings.HasPrefix(res, "nodes/") {
					t.Errorf("%s grants %s, which kpr never reads", name, res)
				}
			}
			if slices.Contains(r.Resources, "configmaps") && len(r.ResourceNames) == 0 {
				t.Errorf("%s reads every ConfigMap; kpr needs only cilium-config and kube-proxy", name)
			}
		}
	}

	// What each command needs (docs/permissions.md's table).
	reader, readerNS := f.clusterRoles["kpr-reader"].Rules, f.roles["kpr-reader"].Rules
	inspector, inspectorNS := f.clusterRoles["kpr-inspector"].Rules, f.roles["kpr-inspector"].Rules
	for _, need := range []struct{ verb, group, resource string }{
		{"list", "", "nodes"}, {"get", "", "nodes"}, {"list", "", "pods"}, {"list", "", "services"},
		{"list", "discovery.k8s.io", "endpointslices"}, {"get", "apps", "daemonsets"},
	} {
		if !grants(reader, need.verb, need.group, need.resource) || !grants(inspector, need.verb, need.group, need.resource) {
			t.Errorf("cluster-wide %s %s.%s missing from kpr-reader or kpr-inspector", need.verb, need.resource, need.group)
		}
	}
	for _, rules := range [][]rbacv1.PolicyRule{readerNS, inspectorNS} {
		if !grants(rules, "create", "", "pods/exec") || !grants(rules, "get", "", "pods/exec") || !grants(rules, "get", "", "configmaps") {
			t.Errorf("a Role lacks create+get pods/exec or get configmaps: %+v", rules)
		}
	}
	for _, need := range []struct{ verb, group, resource string }{
		{"create", "apps", "daemonsets"}, {"delete", "apps", "daemonsets"}, {"create", "batch", "jobs"}, {"delete", "batch", "jobs"},
		{"deletecollection", "", "pods"}, {"list", "", "events"},
	} {
		if !grants(inspectorNS, need.verb, need.group, need.resource) {
			t.Errorf("Role kpr-inspector lacks %s %s.%s (daemonset mode)", need.verb, need.resource, need.group)
		}
		if grants(readerNS, need.verb, need.group, need.resource) && need.verb != "list" {
			t.Errorf("Role kpr-reader grants %s %s: readers start nothing", need.verb, need.resource)
		}
	}
	for _, verb := range []string{"create", "delete", "get", "list", "watch"} {
		if !grants(inspectorNS, verb, "", "pods") {
			t.Errorf("Role kpr-inspector lacks %s pods (debug pods)", verb)
		}
		if verb != "get" && verb != "list" && grants(readerNS, verb, "", "pods") {
			t.Errorf("Role kpr-reader grants %s pods: readers start no pods", verb)
		}
	}
	sameRule := func(a, b rbacv1.PolicyRule) bool {
		return slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.Resources, b.Resources) && slices.Equal(a.APIGroups, b.APIGroups)
	}
	if !slices.EqualFunc(reader, inspector, sameRule) {
		t.Errorf("ClusterRole kpr-inspector's cluster-wide reads differ from kpr-reader's")
	}

	// Every binding points at a role of the file, same namespace.
	for _, b := range f.crbs {
		if _, ok := f.clusterRoles[b.RoleRef.Name]; !ok || b.RoleRef.Kind != "ClusterRole" {
			t.Errorf("ClusterRoleBinding %s refers to %s %s, not in the file", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
	}
	for _, b := range f.rbs {
		r, ok := f.roles[b.RoleRef.Name]
		if !ok || b.RoleRef.Kind != "Role" || r.Namespace != b.Namespace {
			t.Errorf("RoleBinding %s/%s refers to %s %s, not a Role of its namespace", b.Namespace, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
	}
	if len(f.crbs) != 2 || len(f.rbs) != 2 {
		t.Errorf("%d ClusterRoleBindings, %d RoleBindings; want one of each per role", len(f.crbs), len(f.rbs))
	}
}

// bindRBAC applies deploy/rbac.yaml to the lab and binds its roles to the
// lab's restricted users, removing the bindings afterwards.
func bindRBAC(t *testing.T) {
	t.Helper()
	if r := kubectl(t, "apply", "-f", filepath.Join(repoRoot(), "deploy", "rbac.yaml")); r.code != 0 {
		t.Fatalf("kubectl apply -f deploy/rbac.yaml: %s", r)
	}
	for _, b := range []struct{ user, role string }{{readerUser, "kpr-reader"}, {inspectorUser, "kpr-inspector"}} {
		name := "kpr-e2e-" + b.user
		kubectl(t, "delete", "clusterrolebinding", name, "--ignore-not-found")
		kubectl(t, "delete", "rolebinding", name, "-n", "kube-system", "--ignore-not-found")
		for _, args := range [][]string{
			{"create", "clusterrolebinding", name, "--clusterrole=" + b.role, "--user=" + b.user},
			{"create", "rolebinding", name, "-n", "kube-system", "--role=" + b.role, "--user=" + b.user},
		} {
			if r := kubectl(t, args...); r.code != 0 {
				t.Fatalf("kubectl %v: %s", args, r)
			}
		}
		t.Cleanup(func() {
			kubectl(t, "delete", "clusterrolebinding", name, "--ignore-not-found")
			kubectl(t, "delete", "rolebinding", name, "-n", "kube-system", "--ignore-not-found")
		})
	}
	// The authorizer's cache follows new bindings within a second or so.
	deadline := time.Now().Add(15 * time.Second)
	for {
		// "pods/exec" would mean the pod named exec: say --subresource.
		r1 := kubectl(t, "auth", "can-i", "create", "pods", "--subresource=exec", "-n", "kube-system", "--as", readerUser)
		r2 := kubectl(t, "auth", "can-i", "watch", "pods", "-n", "kube-system", "--as", inspectorUser)
		if r1.code == 0 && r2.code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bindings not effective after 15s:\n%s\n%s", r1, r2)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// refused checks a run that must fail for want of a permission: exit 1, a
// message naming verb, resource and namespace, no stack trace, and no kpr
// pod left anywhere.
func refused(t *testing.T, r result, verb, resource, namespace string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit %d, want 1:\n%s", r.code, r)
	}
	msg := strings.ToLower(r.stderr)
	for _, word := range []string{verb, resource, namespace} {
		if !strings.Contains(msg, word) {
			t.Errorf("error does not name %q (want verb %q, resource %q, namespace %q):\n%s", word, verb, resource, namespace, r)
		}
	}
	noStackTrace(t, r)
	if left := kprPodsLeft(t); len(left) > 0 {
		t.Errorf("a refused command left pods behind: %v", left)
	}
}

// allowed checks that a run the role is meant for succeeded without a
// permission error anywhere (status exits 0 with per-node errors, so stdout
// counts too) and cleaned up after itself.
func allowed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("exit %d:\n%s", r.code, r)
	}
	if msg := strings.ToLower(r.stdout + r.stderr); strings.Contains(msg, "forbidden") || strings.Contains(msg, "missing permission") {
		t.Errorf("a permission error for a command the role is meant for:\n%s", r)
	}
	noStackTrace(t, r)
	waitNoKprPods(t)
}

func needCommand(t *testing.T, sub string) {
	t.Helper()
	if !commandExists(t, sub) {
		t.Skipf("kubectl kpr %s is not implemented in this build", sub)
	}
}

func TestRBACReaderRole(t *testing.T) {
	needLab(t)
	bindRBAC(t)
	as := []string{"--context", readerContext}

	for _, tc := range [][]string{
		{"status"},
		{"status", "-o", "json"},
		{"services", "-A"},
		{"version"},
	} {
		t.Run(strings.Join(tc, " "), func(t *testing.T) {
			needCommand(t, tc[0])
			allowed(t, kpr(t, append(as, tc...)...))
		})
	}
	t.Run("inspect is beyond it", func(t *testing.T) {
		needCommand(t, "inspect")
		refused(t, kpr(t, append(as, "inspect", "node-cilium")...), "create", "pods", "kube-system")
	})
	t.Run("probe is beyond it", func(t *testing.T) {
		needCommand(t, "probe")
		refused(t, kpr(t, append(as, "probe", "nm-nginx", "-n", "kube-system", "--from", "node-cilium")...), "create", "pods", "kube-system")
	})
}

func TestRBACInspectorRole(t *testing.T) {
	needLab(t)
	bindRBAC(t)
	as := []string{"--context", inspectorContext}

	for _, tc := range [][]string{
		{"status"},
		{"services", "-A"},
		{"inspect", "node-cilium", "node-bare"},
		{"inspect", "node-cilium", "node-bare", "--mode", "daemonset"},
		{"probe", "nm-nginx", "-n", "kube-system", "--from", "node-cilium"},
		// Without --exit-code, diff exits 0 even when the nodes differ.
		{"diff", "node-cilium", "node-bare"},
		{"cleanup"},
	} {
		t.Run(strings.Join(tc, " "), func(t *testing.T) {
			needCommand(t, tc[0])
			allowed(t, kpr(t, append(as, tc...)...))
		})
	}
	t.Run("verify --service on passing nodes", func(t *testing.T) {
		needCommand(t, "verify")
		// Two nodes whose every check passes: node-cilium alone has no
		// other node to probe its secondary address from (which its agent
		// does not serve: a failure, by design of the lab).
		allowed(t, kpr(t, append(as, "verify", "--service", "kube-system/nm-nginx", "--node", "node-iptables", "--node", "node-nftables")...))
	})
	// Creating a namespace cannot be confined to kpr's by RBAC, so no
	// shipped role grants it (docs/permissions.md): verify must say what
	// is missing, exit 2, and leave nothing.
	t.Run("verify --deploy-backends is beyond it", func(t *testing.T) {
		needCommand(t, "verify")
		r := kpr(t, append(as, "verify", "--deploy-backends")...)
		if r.code != 2 {
			t.Errorf("exit %d, want 2:\n%s", r.code, r)
		}
		if msg := strings.ToLower(r.stderr); !strings.Contains(msg, "missing permission `create namespaces`") {
			t.Errorf("error does not name the missing permission:\n%s", r)
		}
		noStackTrace(t, r)
		waitNoKprPods(t)
	})
	t.Run("debug pods outside its namespace are beyond it", func(t *testing.T) {
		needCommand(t, "inspect")
		refused(t, kpr(t, append(as, "inspect", "node-cilium", "--debug-namespace", "default")...), "create", "pods", "default")
	})
}

// With only `create pods/exec` (no `get`), the WebSocket upgrade is refused
// and exec must fall back to SPDY, as kubectl's does: the agents are still
// read. Uses the lab's "nobody" user and takes its bindings away again.
func TestExecFallsBackToSPDYWithCreateOnly(t *testing.T) {
	needLab(t)
	needCommand(t, "status")
	if r := kubectl(t, "apply", "-f", filepath.Join(repoRoot(), "deploy", "rbac.yaml")); r.code != 0 {
		t.Fatalf("kubectl apply -f deploy/rbac.yaml: %s", r)
	}
	const name, user = "kpr-e2e-create-only", "nobody"
	// Role kpr-reader with pods/exec cut down to create.
	role := filepath.Join(t.TempDir(), "role.yaml")
	if err := os.WriteFile(role, []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: `+name+`, namespace: kube-system}
rules:
  - {apiGroups: [""], resources: [configmaps], resourceNames: [cilium-config, kube-proxy], verbs: [get]}
  - {apiGroups: [""], resources: [pods/exec], verbs: [create]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"apply", "-f", role},
		{"create", "rolebinding", name, "-n", "kube-system", "--role=" + name, "--user=" + user},
		{"create", "clusterrolebinding", name, "--clusterrole=kpr-reader", "--user=" + user},
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "clusterrolebinding", name, "--ignore-not-found")
		kubectl(t, "delete", "rolebinding,role", name, "-n", "kube-system", "--ignore-not-found")
		// Later tests expect nobody to be nobody again.
		for i := 0; i < 50 && kubectl(t, "auth", "can-i", "list", "nodes", "--as", user).code == 0; i++ {
			time.Sleep(200 * time.Millisecond)
		}
	})
	for _, args := range steps {
		if args[0] == "create" {
			kubectl(t, "delete", args[1], name, "-n", "kube-system", "--ignore-not-found")
		}
		if r := kubectl(t, args...); r.code != 0 {
			t.Fatalf("kubectl %v: %s", args, r)
		}
	}
	for i := 0; ; i++ {
		if kubectl(t, "auth", "can-i", "create", "pods", "--subresource=exec", "-n", "kube-system", "--as", user).code == 0 {
			break
		}
		if i == 75 {
			t.Fatal("binding not effective after 15s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := kubectl(t, "auth", "can-i", "get", "pods", "--subresource=exec", "-n", "kube-system", "--as", user); r.code == 0 {
		t.Fatalf("the identity may `get pods/exec`: this test would prove nothing")
	}

	r := kpr(t, "--context", "kpr-lab-nobody", "status", "-o", "json")
	var out struct {
		Nodes []struct {
			Name       string   `json:"name"`
			ServicesBy string   `json:"servicesBy"`
			Errors     []string `json:"errors"`
		} `json:"nodes"`
	}
	mustJSON(t, r, &out)
	found := false
	for _, n := range out.Nodes {
		if n.Name == "node-cilium" {
			found = true
			if n.ServicesBy != "cilium" {
				t.Errorf("node-cilium: servicesBy %q, want cilium (agent read over SPDY); errors %q", n.ServicesBy, n.Errors)
			}
		}
	}
	if !found {
		t.Errorf("status -o json has no node-cilium:\n%s", r)
	}
}
