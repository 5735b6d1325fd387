package main

import "github.com/cilium/cilium/api/v1/models"

// ciliumTag is the release this module renders (go.mod pins it).
const ciliumTag = "v1.14.19"

// tagDate is the tag's commit time from the Go module proxy (.info), in
// the CLI's author-date format: the real build's date is not known here.
const tagDate = "2025-01-16T15:39:54+00:00"

// cliDir is the CLI's source directory at ciliumTag (cilium before 1.15).
const cliDir = "cilium"

// serviceListSHA256 is the sha256 of cliDir/cmd/service_list.go at
// ciliumTag, the file printServiceList was replicated from; the tests fail
// if the module cache holds a different one.
const serviceListSHA256 = "e4788a2a0661c8d8dfa3f15e424e86e21017cd2ee0192b0d38260c173b9660b7"

// healthProbeDisabled is what cliDir/cmd/status.go prints last when the
// agent has no health endpoint controller, verbatim from ciliumTag.
const healthProbeDisabled = "Cluster health:\t\tProbe disabled\n"

// backendProtocol: the model has no backend protocol before 1.17 (the address prints without one).
func backendProtocol(be *models.BackendAddress) string { return "" }

// flagsCluster: the ClusterMesh cluster of the service (1.14+).
func flagsCluster(svc *models.Service) string { return svc.Spec.Flags.Cluster }

// docFieldsDropped are the fields of the stand-in's documents
// (lab/standin/testdata/docs) this release's model does not keep.
var docFieldsDropped = []string{
	"service-list.*.spec.backend-addresses.*.protocol",
	"service-list.*.status.realized.backend-addresses.*.protocol",
	"status.attach-mode",
	"status.datapath-mode",
	"status.routing",
}
