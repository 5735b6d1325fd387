package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/version"
)

// fill sets every field of v, recursively: strings, numbers and bools to
// values that differ from field to field, pointers to filled values,
// slices to n filled elements (n == 0: empty, not nil).
func fill(v reflect.Value, n int, seq *int) {
	*seq++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *seq))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*seq))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*seq))
	case reflect.Bool:
		v.SetBool(*seq%2 == 1)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n, seq)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fill(s.Index(i), n, seq)
		}
		v.Set(s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, seq)
			}
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// mutate changes every string and bool reachable from v in place: through
// pointers and slices' backing arrays, which a converter must not share.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			mutate(v.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i))
			}
		}
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The report types print byte for byte what the parser types printed
// before reports owned them (zero, empty and filled values, nil slices and
// pointers included), and the converters copy every field. If a parser
// gains a field, this fails: add it to the report type on purpose (a schema
// change, seen in pkg/render's goldens) or leave it out on purpose here.
func TestConvertersKeepJSON(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 2} {
		var k cilium.KPR
		var svcs []cilium.Service
		var nf netfilter.Summary
		if n >= 0 {
			seq := 0
			fill(reflect.ValueOf(&k).Elem(), n, &seq)
			fill(reflect.ValueOf(&svcs).Elem(), n, &seq)
			fill(reflect.ValueOf(&nf).Elem(), n, &seq)
		}
		if got, want := marshal(t, KPRFrom(&k)), marshal(t, &k); got != want {
			t.Errorf("n=%d KPR:\n got %s\nwant %s", n, got, want)
		}
		if got, want := marshal(t, AgentServicesFrom(svcs)), marshal(t, svcs); got != want {
			t.Errorf("n=%d services:\n got %s\nwant %s", n, got, want)
		}
		if got, want := marshal(t, RulesFrom(&nf)), marshal(t, &nf); got != want {
			t.Errorf("n=%d rules:\n got %s\nwant %s", n, got, want)
		}
	}
	if KPRFrom(nil) != nil || RulesFrom(nil) != nil || AgentServicesFrom(nil) != nil {
		t.Error("nil must convert to nil (JSON null)")
	}
	if s := AgentServicesFrom([]cilium.Service{}); s == nil {
		t.Error("empty service list converted to nil: [] would print as null")
	}
	var info version.Info
	seq := 0
	fill(reflect.ValueOf(&info).Elem(), 1, &seq)
	v := VersionFrom(info)
	if got, want := marshal(t, v), marshal(t, info); got != `{"apiVersion":"","kind":"",`+want[1:] {
		t.Errorf("version:\n got %s\nwant %s plus an empty TypeMeta", got, want)
	}
}

// The converters share no memory with the parser's values.
func TestConvertersCopy(t *testing.T) {
	seq := 0
	var k cilium.KPR
	var svcs []cilium.Service
	var nf netfilter.Summary
	fill(reflect.ValueOf(&k).Elem(), 2, &seq)
	fill(reflect.ValueOf(&svcs).Elem(), 2, &seq)
	fill(reflect.ValueOf(&nf).Elem(), 2, &seq)
	rk, rs, rn := KPRFrom(&k), AgentServicesFrom(svcs), RulesFrom(&nf)
	before := marshal(t, rk) + marshal(t, rs) + marshal(t, rn)
	mutate(reflect.ValueOf(&k).Elem())
	mutate(reflect.ValueOf(svcs))
	mutate(reflect.ValueOf(&nf).Elem())
	if after := marshal(t, rk) + marshal(t, rs) + marshal(t, rn); after != before {
		t.Error("a report value changed with the parser's value it was converted from")
	}
	// One service's backends cannot grow into the next one's.
	if cap(rs[0].Backends) != len(rs[0].Backends) {
		t.Errorf("backends cap %d > len %d", cap(rs[0].Backends), len(rs[0].Backends))
	}
}

func TestReplacementValues(t *testing.T) {
	if ReplacesFull != cilium.ReplacesFull || ReplacesPartial != cilium.ReplacesPartial || ReplacesNone != cilium.ReplacesNone {
		t.Error("report's ReplacesKubeProxy values differ from the parser's")
	}
}

// Every Document sets its own kind and the one apiVersion.
func TestSetTypeMeta(t *testing.T) {
	docs := map[string]Document{
		KindStatus: &Status{}, KindServices: &Services{}, KindInspect: &Inspect{}, KindProbe: &Probe{}, KindDiff: &Diff{},
		KindVerify: &Verify{}, KindAnalyze: &Analyze{}, KindCleanup: &Cleanup{}, KindVersion: &Version{},
	}
	for kind, d := range docs {
		d.SetTypeMeta()
		tm := reflect.ValueOf(d).Elem().FieldByName("TypeMeta")
		if reflect.ValueOf(d).Elem().Type().Field(0).Name != "TypeMeta" {
			t.Errorf("%s: TypeMeta is not the first field, so not the first in JSON", kind)
		}
		if got := tm.Interface().(TypeMeta); got != (TypeMeta{APIVersion: APIVersion, Kind: kind}) {
			t.Errorf("%T: %+v, want kind %s", d, got, kind)
		}
	}
}
