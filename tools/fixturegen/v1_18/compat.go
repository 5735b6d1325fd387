package main

import "github.com/cilium/cilium/api/v1/models"

const ciliumTag = "v1.18.8"

// backendState: the backend state (1.12+).
func backendState(be *models.BackendAddress) string { return be.State }

// flagsCluster: the ClusterMesh cluster of the service (1.14+).
func flagsCluster(svc *models.Service) string { return svc.Spec.Flags.Cluster }
