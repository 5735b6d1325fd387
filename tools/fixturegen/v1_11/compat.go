package main

import "github.com/cilium/cilium/api/v1/models"

const ciliumTag = "v1.11.0"

// backendState: the 1.10/1.11 BackendAddress model has no state.
func backendState(be *models.BackendAddress) string { return "" }

// flagsCluster: the 1.10–1.13 flags model has no cluster.
func flagsCluster(svc *models.Service) string { return "" }
