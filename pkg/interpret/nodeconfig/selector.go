package nodeconfig

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The label selector semantics of k8s.io/apimachinery (metav1.
// LabelSelectorAsSelector and labels.Requirement.Matches), which
// build-config applies to a CNC's nodeSelector, and of node affinity
// (component-helpers nodeaffinity), which decides where kube-proxy's
// DaemonSet runs.

var (
	nameRE      = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	dns1123RE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	configKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// validLabelKey is validation.IsQualifiedName: [prefix/]name, the prefix a
// DNS subdomain of at most 253 characters, the name at most 63.
func validLabelKey(k string) bool {
	name := k
	if prefix, n, ok := strings.Cut(k, "/"); ok {
		if prefix == "" || len(prefix) > 253 || !dns1123RE.MatchString(prefix) {
			return false
		}
		name = n
	}
	return name != "" && len(name) <= 63 && nameRE.MatchString(name)
}

// validLabelValue is validation.IsValidLabelValue.
func validLabelValue(v string) bool {
	return v == "" || (len(v) <= 63 && nameRE.MatchString(v))
}

// ValidConfigKey is validation.IsConfigMapKey, which build-config applies
// to CNC and node keys: [-._a-zA-Z0-9]+, at most 253 characters, not "."
// and not starting with "..".
func ValidConfigKey(k string) bool {
	return len(k) <= 253 && configKeyRE.MatchString(k) && k != "." && !strings.HasPrefix(k, "..")
}

// Validate reports what metav1.LabelSelectorAsSelector would reject; such a
// CNC makes build-config fail ("invalid selector in CiliumNodeConfig").
func (s *Selector) Validate() error {
	if s == nil {
		return nil
	}
	for _, k := range sortedKeys(s.MatchLabels) {
		if err := checkRequirement(Requirement{Key: k, Operator: "In", Values: []string{s.MatchLabels[k]}}, false); err != nil {
			return err
		}
	}
	for _, r := range s.MatchExpressions {
		if err := checkRequirement(r, false); err != nil {
			return err
		}
	}
	return nil
}

func checkRequirement(r Requirement, affinity bool) error {
	if !validLabelKey(r.Key) {
		return fmt.Errorf("invalid label key %q", r.Key)
	}
	switch r.Operator {
	case "In", "NotIn":
		if len(r.Values) == 0 {
			return fmt.Errorf("%s %s needs values", r.Key, r.Operator)
		}
	case "Exists", "DoesNotExist":
		if len(r.Values) != 0 {
			return fmt.Errorf("%s %s takes no values", r.Key, r.Operator)
		}
	case "Gt", "Lt":
		if !affinity {
			return fmt.Errorf("%q is not a valid label selector operator", r.Operator)
		}
		if len(r.Values) != 1 {
			return fmt.Errorf("%s %s takes one value", r.Key, r.Operator)
		}
		if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			return fmt.Errorf("%s %s takes an integer", r.Key, r.Operator)
		}
		return nil
	default:
		return fmt.Errorf("%q is not a valid label selector operator", r.Operator)
	}
	for _, v := range r.Values {
		if !validLabelValue(v) {
			return fmt.Errorf("invalid label value: %q", v)
		}
	}
	return nil
}

// Matches reports whether the selector selects a node with these labels.
// A nil selector selects nothing, an empty one everything; an invalid one
// nothing (build-config fails on it instead, see Validate).
func (s *Selector) Matches(labels map[string]string) bool {
	if s == nil || s.Validate() != nil {
		return false
	}
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		if !r.matches(labels) {
			return false
		}
	}
	return true
}

// Keys are the label keys the selector looks at.
func (s *Selector) Keys() []string {
	if s == nil {
		return nil
	}
	keys := sortedKeys(s.MatchLabels)
	for _, r := range s.MatchExpressions {
		if !slices.Contains(keys, r.Key) {
			keys = append(keys, r.Key)
		}
	}
	return keys
}

func (r Requirement) matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case "In":
		return ok && slices.Contains(r.Values, v)
	case "NotIn":
		return !ok || !slices.Contains(r.Values, v)
	case "Exists":
		return ok
	case "DoesNotExist":
		return !ok
	case "Gt", "Lt":
		if !ok || len(r.Values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == "Gt" {
			return have > want
		}
		return have < want
	}
	return false
}

// NodeSelectorTerm is one term of requiredDuringSchedulingIgnoredDuringExecution
// (matchExpressions only: matchFields is not used by the rollout).
type NodeSelectorTerm struct {
	MatchExpressions []Requirement
}

// AffinityAllows reports whether a DaemonSet with these required node
// affinity terms runs on a node with these labels: the terms are ORed, a
// term's expressions ANDed, a term without expressions matches nothing, and
// no terms at all means no constraint. A term with an invalid expression
// matches nothing.
func AffinityAllows(terms []NodeSelectorTerm, labels map[string]string) bool {
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		if len(t.MatchExpressions) == 0 {
			continue
		}
		ok := true
		for _, r := range t.MatchExpressions {
			if checkRequirement(r, true) != nil || !r.matches(labels) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// HasRolloutAffinity reports whether every term carries the documented
// rollout expression {MigrationLabel NotIn [...]} with "true" (or, in the
// v1.13 docs, "strict") among its values, so that labelled nodes are
// excluded whatever else the terms say.
func HasRolloutAffinity(terms []NodeSelectorTerm) bool {
	if len(terms) == 0 {
		return false
	}
	for _, t := range terms {
		found := false
		for _, r := range t.MatchExpressions {
			if r.Key == MigrationLabel && r.Operator == "NotIn" &&
				(slices.Contains(r.Values, "true") || slices.Contains(r.Values, "strict")) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
