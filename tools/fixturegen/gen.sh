#!/usr/bin/env bash
# Regenerates pkg/interpret/cilium/testdata/v<release>/ with every release's
# own code. Each v1_XX directory is a separate module pinned to one cilium
# release (a module can require only one). Needs the Go module proxy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../pkg/interpret/cilium/testdata"
mkdir -p "$out"
for dir in "$here"/v1_*/; do
	echo "fixturegen: $(basename "$dir")" >&2
	# Some older releases' DumpJSONToString also prints; only files count.
	(cd "$dir" && go run . -out "$out" >/dev/null)
done
