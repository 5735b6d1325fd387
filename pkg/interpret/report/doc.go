// Package report holds the plain result structs every command prints:
// collect fills them, interpret decides their verdicts, render prints them.
// Field names and JSON tags are kpr's output schema (examples in docs/commands/); keep them
// stable. One file per command.
//
// Every top-level report is a Document: it embeds TypeMeta first, and
// render.Structured sets its apiVersion (APIVersion) and kind (Kind*) as
// the document's first two fields (typemeta.go).
//
// Reports use types of their own only, never a parser's: KPR and
// AgentService (kpr.go) stand for pkg/interpret/cilium's KPR and Service,
// Rules (rules.go) for pkg/interpret/netfilter's Summary, each with a
// converter (KPRFrom, AgentServicesFrom, RulesFrom). A parser can then be
// refactored freely: the golden files of pkg/render pin what users read.
package report
