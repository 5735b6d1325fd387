package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// JUnit XML as Jenkins, GitLab and GitHub test reporters read it: one
// <testsuite> per node class, one <testcase> per check. The element order
// inside a testcase (skipped, failure, system-out) follows the common
// schema (Jenkins' junit-4.xsd), which the tests validate against. Written
// with encoding/xml rather than a JUnit library: the shape is five
// elements, and a library (go-junit-report) models Go test events, not ours.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *string       `xml:"skipped,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// JUnit writes the result as JUnit XML. Test case names are the check ids
// ("node/check/service/via"), unique and stable between runs; classname
// is "kpr.verify.<class>" so that reporters group by class. Warnings pass
// and carry "WARN: ..." in system-out; skipped checks are <skipped>.
func JUnit(w io.Writer, res *report.Verify) error {
	out := junitSuites{Name: "kubectl kpr verify", Time: junitSeconds(res.DurationMs)}
	for _, c := range res.Classes {
		s := junitSuite{Name: c.Name, Time: junitSeconds(0), Timestamp: res.StartedAt}
		props := []junitProp{{"nodes", strings.Join(c.Nodes, ",")}, {"checked", strings.Join(c.Chosen, ",")}}
		if res.Cluster.Server != "" {
			props = append(props, junitProp{"server", res.Cluster.Server})
		}
		if res.Cluster.CiliumVersion != "" {
			props = append(props, junitProp{"cilium", res.Cluster.CiliumVersion})
		}
		s.Properties = &junitProps{Props: props}
		var ms float64
		for _, ch := range res.Checks {
			if ch.Class != c.Name {
				continue
			}
			tc := junitTestCase{Name: ch.ID, Classname: "kpr.verify." + c.Name, Time: junitSeconds(0)}
			if ch.Evidence.Probe != nil {
				tc.Time = junitSeconds(ch.Evidence.Probe.LatencyMs)
				ms += ch.Evidence.Probe.LatencyMs
			}
			body := junitBody(ch)
			s.Tests++
			switch ch.Result {
			case report.ResultFail:
				s.Failures++
				tc.Failure = &junitFailure{Message: ch.Reason, Type: ch.Name, Body: body}
			case report.ResultSkip:
				s.Skipped++
				reason := ch.Reason
				tc.Skipped = &reason
			case report.ResultWarn:
				tc.SystemOut = "WARN: " + ch.Reason + "\n" + body
			default:
				tc.SystemOut = body
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Time = junitSeconds(ms)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	if len(res.Errors) > 0 {
		// Nodes that could not be checked are errors of their own suite,
		// so that a CI job shows them and not only a shorter green list.
		s := junitSuite{Name: "not-checked", Time: junitSeconds(0), Timestamp: res.StartedAt}
		for _, e := range res.Errors {
			s.Tests++
			s.Failures++
			s.Cases = append(s.Cases, junitTestCase{Name: e.Node + "/" + e.Reason, Classname: "kpr.verify.not-checked", Time: junitSeconds(0),
				Failure: &junitFailure{Message: e.Message, Type: e.Reason, Body: e.Message}})
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitBody(c report.VerifyCheck) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node: %s (%s)\n", c.Node, c.Class)
	if c.Target != "" {
		fmt.Fprintf(&b, "target: %s\n", strings.TrimSpace(c.Service+" "+c.Target))
	}
	if c.Via != "" {
		fmt.Fprintf(&b, "via: %s (%s)\n", c.Via, c.ViaClass)
	}
	if c.Case != "" {
		fmt.Fprintf(&b, "case: %s\n", c.Case)
	}
	fmt.Fprintf(&b, "expect: %s\nresult: %s: %s\n", c.Expect, c.Result, c.Reason)
	if ev := VerifyEvidenceLine(c.Evidence); ev != "" {
		fmt.Fprintf(&b, "evidence: %s\n", ev)
	}
	if c.Reproduce != "" {
		fmt.Fprintf(&b, "reproduce: %s\n", c.Reproduce)
	}
	return b.String()
}

// junitSeconds is JUnit's time: seconds with a dot, no unit.
func junitSeconds(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }
