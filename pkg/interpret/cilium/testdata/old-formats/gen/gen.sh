#!/usr/bin/env bash
# Renders the old-format `cilium status` fixtures in .. with each
# release's own code from the Go module proxy: one scratch module per
# release (a module can require a single cilium version) built with that
# release's compat_<tag>.go. Cilium's own replace directives are copied in
# (they do not apply to a dependency), plus vbom.ml/util's move to GitHub.
# Usage: bash gen.sh   (from anywhere; needs the Go module proxy)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "$here/.." && pwd)
for rel in v1_7:v1.7.0 v1_8rc:v1.8.0-rc1 v1_8:v1.8.0 v1_9:v1.9.0 v1_18:v1.18.8; do
	tag=${rel%%:*} ver=${rel#*:}
	mod=$(mktemp -d)
	cp "$here/main.go" "$here/compat_${tag}.go" "$mod/"
	(
		cd "$mod"
		export GOFLAGS=-mod=mod
		go mod init gen >/dev/null 2>&1
		go mod edit -require="github.com/cilium/cilium@$ver"
		dir=$(go mod download -json "github.com/cilium/cilium@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		awk '/^replace \($/,/^\)$/' "$dir/go.mod" | grep -v '=> \.\|=> /' >>go.mod || true
		go mod edit -replace=vbom.ml/util=github.com/fvbommel/util@v0.0.0-20160121211510-db5cfe13f5cc
		go mod tidy >/dev/null 2>&1
		go run -p 1 -tags "$tag" . -out "$out" >/dev/null
	)
	rm -rf "$mod"
done
