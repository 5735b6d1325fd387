package main

import "github.com/cilium/cilium/api/v1/models"

const ciliumTag = "v1.13.18"

// backendState: the backend state (1.12+).
func backendState(be *models.BackendAddress) string { return be.State }

// flagsCluster: the 1.10–1.13 flags model has no cluster.
func flagsCluster(svc *models.Service) string { return "" }
