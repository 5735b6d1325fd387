// Package archcheck holds the test that keeps kpr's rooms apart: cmd →
// engines (nodecheck, verify) → collect / interpret → render, with no
// arrow back up.
package archcheck
