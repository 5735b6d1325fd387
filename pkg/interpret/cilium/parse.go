package cilium

import "errors"

// errNotImplemented is a placeholder until the parsers land.
var errNotImplemented = errors.New("not implemented")

// ParseStatus reads `cilium status` output in any supported rendering
// (JSON or text, plain, --verbose or only the KPR details block), after
// the paste noise has been removed.
func ParseStatus(b []byte) (*Status, error) { return nil, errNotImplemented }

// ParseServiceList reads `cilium service list` output, JSON or text.
func ParseServiceList(b []byte) ([]Service, error) { return nil, errNotImplemented }
