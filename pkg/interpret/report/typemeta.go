package report

// APIVersion is the apiVersion of every document kpr prints with -o json
// or -o yaml. Bump it (v1alpha2, v1beta1, ...) when a document changes in
// a way that breaks its readers: a field renamed, retyped or removed.
const APIVersion = "kpr.kubectl-kpr.io/v1alpha1"

// Document kinds, one per command that prints a document.
const (
	KindStatus   = "StatusReport"
	KindServices = "ServicesReport"
	KindInspect  = "InspectReport"
	KindProbe    = "ProbeReport"
	KindDiff     = "DiffReport"
	KindVerify   = "VerifyReport"
	KindAnalyze  = "AnalyzeReport"
	KindCleanup  = "CleanupReport"
	KindVersion  = "VersionReport"
)

// TypeMeta says which document this is. Every top-level report embeds it
// as its FIRST field, so that encoding/json writes "apiVersion" and "kind"
// before anything else (render.Structured moves them to the top of YAML,
// whose keys are otherwise sorted).
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// Document is a top-level -o json|yaml document.
//
// Why a setter called by the writer rather than constructors: reports are
// built as struct literals in many places (collectors, commands, tests),
// and a forgotten constructor would print a document without its kind.
// render.Structured (and the streaming JSON writers) take a Document, call
// SetTypeMeta right before encoding, and refuse anything else at compile
// time: no caller has to remember the apiVersion or the kind, and none can
// print a report that lacks them.
type Document interface {
	// SetTypeMeta fills APIVersion and Kind with the document's own.
	SetTypeMeta()
	// GetTypeMeta returns them (promoted from the embedded TypeMeta).
	GetTypeMeta() TypeMeta
}

// GetTypeMeta implements Document for the types that embed TypeMeta.
func (t TypeMeta) GetTypeMeta() TypeMeta { return t }

func typeMeta(kind string) TypeMeta { return TypeMeta{APIVersion: APIVersion, Kind: kind} }

// The Documents, all in one place.

// SetTypeMeta implements Document.
func (r *Status) SetTypeMeta() { r.TypeMeta = typeMeta(KindStatus) }

// SetTypeMeta implements Document.
func (r *Services) SetTypeMeta() { r.TypeMeta = typeMeta(KindServices) }

// SetTypeMeta implements Document.
func (r *Inspect) SetTypeMeta() { r.TypeMeta = typeMeta(KindInspect) }

// SetTypeMeta implements Document.
func (r *Probe) SetTypeMeta() { r.TypeMeta = typeMeta(KindProbe) }

// SetTypeMeta implements Document.
func (r *Diff) SetTypeMeta() { r.TypeMeta = typeMeta(KindDiff) }

// SetTypeMeta implements Document.
func (r *Verify) SetTypeMeta() { r.TypeMeta = typeMeta(KindVerify) }

// SetTypeMeta implements Document.
func (r *Analyze) SetTypeMeta() { r.TypeMeta = typeMeta(KindAnalyze) }

// SetTypeMeta implements Document.
func (r *Cleanup) SetTypeMeta() { r.TypeMeta = typeMeta(KindCleanup) }

// SetTypeMeta implements Document.
func (r *Version) SetTypeMeta() { r.TypeMeta = typeMeta(KindVersion) }
