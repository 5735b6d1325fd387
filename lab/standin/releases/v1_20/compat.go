package main

import "github.com/cilium/cilium/api/v1/models"

// ciliumTag is the release this module renders (go.mod pins it).
const ciliumTag = "v1.20.2"

// tagDate is the tag's commit time from the Go module proxy (.info), in
// the CLI's author-date format: the real build's date is not known here.
const tagDate = "2026-09-15T20:03:11+00:00"

// cliDir is the CLI's source directory at ciliumTag (cilium-dbg since 1.15).
const cliDir = "cilium-dbg"

// serviceListSHA256 is the sha256 of cliDir/cmd/service_list.go at
// ciliumTag, the file printServiceList was replicated from; the tests fail
// if the module cache holds a different one.
const serviceListSHA256 = "2a2018b77ab0357c3f18cd8e5aebf53801a5df84772d7b6fae10c06d3174c210"

// healthProbeDisabled is what cliDir/cmd/status.go prints last when the
// agent has no health endpoint controller, verbatim from ciliumTag.
const healthProbeDisabled = "Cluster health:\tProbe disabled\n"

// backendProtocol: the backend protocol (1.17+), printed as "/PROTO".
func backendProtocol(be *models.BackendAddress) string { return be.Protocol }

// flagsCluster: the ClusterMesh cluster of the service (1.14+).
func flagsCluster(svc *models.Service) string { return svc.Spec.Flags.Cluster }

// docFieldsDropped are the fields of the stand-in's documents
// (lab/standin/testdata/docs) this release's model does not keep.
var docFieldsDropped = []string{}
