package report

// Diff is `kubectl kpr diff -o json`.
type Diff struct {
	TypeMeta
	Nodes []string `json:"nodes"`
	// Verdicts are one line per node, in Nodes' order.
	Verdicts []string  `json:"verdicts"`
	Rows     []DiffRow `json:"rows"`
	// Differs: the nodes differ in something that decides service handling.
	Differs bool        `json:"differs"`
	Errors  []NodeError `json:"errors,omitempty"`
}

// DiffRow is one fact on both nodes.
type DiffRow struct {
	// Section is "status", "rules" or "probe".
	Section string `json:"section"`
	Fact    string `json:"fact"`
	A       string `json:"a"`
	B       string `json:"b"`
	Differs bool   `json:"differs"`
	// Decisive: this fact decides how Services are handled, so a
	// difference here makes `diff --exit-code` fail.
	Decisive bool `json:"decisive"`
	// AState / BState are "good", "bad" or "" (neutral), for coloring.
	AState string `json:"aState,omitempty"`
	BState string `json:"bState,omitempty"`
}

// Diff cell states.
const (
	StateGood = "good"
	StateBad  = "bad"
)
