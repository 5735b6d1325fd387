package report

// Cleanup is `kubectl kpr cleanup -o json`.
type Cleanup struct {
	TypeMeta
	DryRun  bool         `json:"dryRun"`
	Deleted []CleanedPod `json:"deleted"`
	// Namespaces are verify namespaces (kpr-verify-*) of killed runs.
	Namespaces []CleanedNamespace `json:"namespaces"`
	// Controllers are daemonset mode's DaemonSets and anchor Jobs.
	Controllers []CleanedController `json:"controllers"`
	Errors      []string            `json:"errors,omitempty"`
}

// CleanedPod is one kpr pod cleanup deleted (or would delete).
type CleanedPod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node"`
	RunID     string `json:"runID,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Age       string `json:"age"`
}

// CleanedNamespace is one verify namespace cleanup deleted (or would).
type CleanedNamespace struct {
	Name  string `json:"name"`
	RunID string `json:"runID,omitempty"`
	Phase string `json:"phase,omitempty"`
	Age   string `json:"age"`
}

// CleanedController is one DaemonSet or Job of daemonset mode cleanup
// deleted (or would).
type CleanedController struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	RunID     string `json:"runID,omitempty"`
	Age       string `json:"age"`
}
