// Package report holds the plain result structs every command prints:
// collect fills them, interpret decides their verdicts, render prints them.
// Field names and JSON tags are kpr's output schema (see README); keep them
// stable. One file per command.
package report
