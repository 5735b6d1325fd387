package main

import "github.com/cilium/cilium/api/v1/models"

// ciliumTag is the release this module renders (go.mod pins it).
const ciliumTag = "v1.12.19"

// tagDate is the tag's commit time from the Go module proxy (.info), in
// the CLI's author-date format: the real build's date is not known here.
const tagDate = "2024-02-13T00:25:23+00:00"

// cliDir is the CLI's source directory at ciliumTag (cilium before 1.15).
const cliDir = "cilium"

// serviceListSHA256 is the sha256 of cliDir/cmd/service_list.go at
// ciliumTag, the file printServiceList was replicated from; the tests fail
// if the module cache holds a different one.
const serviceListSHA256 = "9989f008489f82ef9b72397ec7870b3ba0bce6654ebd18e7a4151fcbf4e6974e"

// healthProbeDisabled is what cliDir/cmd/status.go prints last when the
// agent has no health endpoint controller, verbatim from ciliumTag.
const healthProbeDisabled = "Cluster health:\t\tProbe disabled\n"

// backendProtocol: the model has no backend protocol before 1.17 (the address prints without one).
func backendProtocol(be *models.BackendAddress) string { return "" }

// flagsCluster: the flags model has no cluster before 1.14.
func flagsCluster(svc *models.Service) string { return "" }

// docFieldsDropped are the fields of the stand-in's documents
// (lab/standin/testdata/docs) this release's model does not keep.
var docFieldsDropped = []string{
	"service-list.*.spec.backend-addresses.*.protocol",
	"service-list.*.spec.backend-addresses.*.weight",
	"service-list.*.spec.flags.extTrafficPolicy",
	"service-list.*.spec.flags.intTrafficPolicy",
	"service-list.*.status.realized.backend-addresses.*.protocol",
	"service-list.*.status.realized.backend-addresses.*.weight",
	"service-list.*.status.realized.flags.extTrafficPolicy",
	"service-list.*.status.realized.flags.intTrafficPolicy",
	"status.attach-mode",
	"status.cni-file",
	"status.datapath-mode",
	"status.proxy.envoy-deployment-mode",
	"status.routing",
}
