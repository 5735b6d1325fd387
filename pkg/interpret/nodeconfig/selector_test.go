package nodeconfig

import (
	"strings"
	"testing"
)

// The selector cases follow k8s.io/apimachinery's labels semantics
// (NotIn and DoesNotExist match a node without the label).
func TestSelectorMatches(t *testing.T) {
	labels := map[string]string{"a": "b", MigrationLabel: "true", "n": "5"}
	for _, tc := range []struct {
		name string
		s    *Selector
		want bool
	}{
		{"nil selects nothing", nil, false},
		{"empty selects everything", &Selector{}, true},
		{"matchLabels", sel(map[string]string{"a": "b"}), true},
		{"matchLabels other value", sel(map[string]string{"a": "c"}), false},
		{"matchLabels missing", sel(map[string]string{"x": "y"}), false},
		{"In", sel(nil, Requirement{Key: "a", Operator: "In", Values: []string{"c", "b"}}), true},
		{"In missing label", sel(nil, Requirement{Key: "x", Operator: "In", Values: []string{"b"}}), false},
		{"NotIn other value", sel(nil, Requirement{Key: "a", Operator: "NotIn", Values: []string{"c"}}), true},
		{"NotIn same value", sel(nil, Requirement{Key: MigrationLabel, Operator: "NotIn", Values: []string{"true"}}), false},
		{"NotIn missing label", sel(nil, Requirement{Key: "x", Operator: "NotIn", Values: []string{"true"}}), true},
		{"Exists", sel(nil, Requirement{Key: "a", Operator: "Exists"}), true},
		{"Exists missing", sel(nil, Requirement{Key: "x", Operator: "Exists"}), false},
		{"DoesNotExist", sel(nil, Requirement{Key: "x", Operator: "DoesNotExist"}), true},
		{"DoesNotExist present", sel(nil, Requirement{Key: "a", Operator: "DoesNotExist"}), false},
		{"ANDed", sel(map[string]string{"a": "b"}, Requirement{Key: "x", Operator: "Exists"}), false},
		{"invalid (Gt is not a label selector operator)", sel(nil, Requirement{Key: "n", Operator: "Gt", Values: []string{"1"}}), false},
	} {
		if got := tc.s.Matches(labels); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSelectorValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       *Selector
		wantErr string
	}{
		{"nil", nil, ""},
		{"good", sel(map[string]string{"io.cilium/x": "y"}, Requirement{Key: "a", Operator: "Exists"}), ""},
		{"lower-case operator", sel(nil, Requirement{Key: "a", Operator: "in", Values: []string{"b"}}), "not a valid label selector operator"},
		{"In without values", sel(nil, Requirement{Key: "a", Operator: "In"}), "needs values"},
		{"Exists with values", sel(nil, Requirement{Key: "a", Operator: "Exists", Values: []string{"b"}}), "takes no values"},
		{"bad key", sel(map[string]string{"-a": "b"}), "invalid label key"},
		{"bad prefix", sel(map[string]string{"UPPER.io/a": "b"}), "invalid label key"},
		{"empty prefix", sel(map[string]string{"/a": "b"}), "invalid label key"},
		{"bad value", sel(map[string]string{"a": "b c"}), "invalid label value"},
		{"empty value is fine", sel(map[string]string{"a": ""}), ""},
	} {
		err := tc.s.Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestValidConfigKey(t *testing.T) {
	for k, want := range map[string]bool{
		"kube-proxy-replacement": true, "a.b_C-1": true, ".": false, "..": false, "..a": false,
		"a/b": false, "": false, strings.Repeat("a", 254): false, ".a": true,
	} {
		if got := ValidConfigKey(k); got != want {
			t.Errorf("ValidConfigKey(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestSelectorKeys(t *testing.T) {
	s := sel(map[string]string{"b": "1", "a": "2"}, Requirement{Key: "c", Operator: "Exists"}, Requirement{Key: "a", Operator: "Exists"})
	if got := strings.Join(s.Keys(), ","); got != "a,b,c" {
		t.Errorf("Keys = %s", got)
	}
	if (*Selector)(nil).Keys() != nil {
		t.Error("nil Keys")
	}
}

// The kube-proxy affinity of the docs' rollout patch (per-node-config.rst):
// one term, NotIn ["true"] on the migration label.
func TestAffinity(t *testing.T) {
	doc := []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: MigrationLabel, Operator: "NotIn", Values: []string{"true"}}}}}
	v113 := []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: MigrationLabel, Operator: "NotIn", Values: []string{"strict"}}}}}
	linux := Requirement{Key: "kubernetes.io/os", Operator: "In", Values: []string{"linux"}}
	orOther := append(append([]NodeSelectorTerm{}, doc...), NodeSelectorTerm{MatchExpressions: []Requirement{linux}})
	labelled := map[string]string{MigrationLabel: "true", "kubernetes.io/os": "linux"}
	plain := map[string]string{"kubernetes.io/os": "linux"}
	for _, tc := range []struct {
		name      string
		terms     []NodeSelectorTerm
		labels    map[string]string
		allows    bool
		documents bool
	}{
		{"no affinity", nil, labelled, true, false},
		{"docs patch, labelled", doc, labelled, false, true},
		{"docs patch, not labelled", doc, plain, true, true},
		{"v1.13 docs patch", v113, map[string]string{MigrationLabel: "strict"}, false, true},
		{"another term lets it back in", orOther, labelled, true, false},
		{"empty term matches nothing", []NodeSelectorTerm{{}}, plain, false, false},
		{"Gt", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Gt", Values: []string{"3"}}}}}, map[string]string{"n": "5"}, true, false},
		{"Lt", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Lt", Values: []string{"3"}}}}}, map[string]string{"n": "5"}, false, false},
		{"Gt not a number", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Gt", Values: []string{"x"}}}}}, map[string]string{"n": "5"}, false, false},
		{"Gt label not a number", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Gt", Values: []string{"3"}}}}}, map[string]string{"n": "x"}, false, false},
		{"Gt two values", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Gt", Values: []string{"3", "4"}}}}}, map[string]string{"n": "5"}, false, false},
		{"Gt missing label", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Gt", Values: []string{"3"}}}}}, plain, false, false},
		{"unknown operator", []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "n", Operator: "Near", Values: []string{"3"}}}}}, plain, false, false},
	} {
		if got := AffinityAllows(tc.terms, tc.labels); got != tc.allows {
			t.Errorf("%s: AffinityAllows = %v, want %v", tc.name, got, tc.allows)
		}
		if got := HasRolloutAffinity(tc.terms); got != tc.documents {
			t.Errorf("%s: HasRolloutAffinity = %v, want %v", tc.name, got, tc.documents)
		}
	}
	// Requirement.matches with a Gt that bypassed validation.
	if (Requirement{Key: "n", Operator: "Gt", Values: []string{"x"}}).matches(map[string]string{"n": "5"}) {
		t.Error("Gt x matched")
	}
	if (Requirement{Key: "n", Operator: "Gt", Values: []string{"1", "2"}}).matches(map[string]string{"n": "5"}) {
		t.Error("Gt with two values matched")
	}
}
