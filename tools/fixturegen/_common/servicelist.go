package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/cilium/cilium/pkg/loadbalancer"
)

// formatServiceList replicates printServiceList from
// cilium[-dbg]/cmd/service_list.go at ciliumTag (the cmd package cannot be
// imported: it registers the whole CLI and pulls the agent in). The
// function has three shapes across 1.10–1.20 (checked by diffing it at
// every tag used here):
//   - 1.10–1.11: backend cell "%d => %s";
//   - 1.12–1.13: "%d => %s (%s)" with the backend state;
//   - 1.14+:     as 1.12, plus " (Remote)" after the type when flags.cluster is set.
//
// Addresses are formatted by the release's own loadbalancer.L3n4Addr.
// The CLI writes to tabwriter.NewWriter(os.Stdout, 5, 0, 3, ' ', 0) and
// --clustermesh-affinity is off by default.
func formatServiceList(minor int, list []*models.Service) string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 5, 0, 3, ' ', 0)
	fmt.Fprintln(w, "ID\tFrontend\tService Type\tBackend\t")

	type ServiceOutput struct {
		ID               int64
		ServiceType      string
		FrontendAddress  string
		BackendAddresses []string
	}
	svcs := []ServiceOutput{}

	for _, svc := range list {
		if svc.Status == nil || svc.Status.Realized == nil {
			fmt.Fprint(os.Stderr, "error parsing svc: empty state")
			continue
		}

		feA, err := loadbalancer.NewL3n4AddrFromModel(svc.Status.Realized.FrontendAddress)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error parsing frontend %+v", svc.Status.Realized.FrontendAddress)
			continue
		}

		var backendAddresses []string
		for i, be := range svc.Status.Realized.BackendAddresses {
			beA, err := loadbalancer.NewL3n4AddrFromBackendModel(be)
			if err != nil {
				fmt.Fprintf(os.Stderr, "error parsing backend %+v", be)
				continue
			}
			var str string
			if minor <= 11 {
				str = fmt.Sprintf("%d => %s", i+1, beA.String())
			} else {
				str = fmt.Sprintf("%d => %s (%s)", i+1, beA.String(), backendState(be))
			}
			backendAddresses = append(backendAddresses, str)
		}

		SvcOutput := ServiceOutput{
			ID:               svc.Status.Realized.ID,
			ServiceType:      svc.Spec.Flags.Type,
			FrontendAddress:  feA.String(),
			BackendAddresses: backendAddresses,
		}

		if minor >= 14 && flagsCluster(svc) != "" {
			SvcOutput.ServiceType = SvcOutput.ServiceType + " (Remote)"
		}

		svcs = append(svcs, SvcOutput)
	}

	sort.Slice(svcs, func(i, j int) bool {
		return svcs[i].ID <= svcs[j].ID
	})

	for _, service := range svcs {
		var str string

		if len(service.BackendAddresses) == 0 {
			str = fmt.Sprintf("%d\t%s\t%s\t\t",
				service.ID, service.FrontendAddress, service.ServiceType)
			fmt.Fprintln(w, str)
			continue
		}

		str = fmt.Sprintf("%d\t%s\t%s\t%s\t",
			service.ID, service.FrontendAddress, service.ServiceType,
			service.BackendAddresses[0])
		fmt.Fprintln(w, str)

		for _, bkaddr := range service.BackendAddresses[1:] {
			str := fmt.Sprintf("\t\t\t%s\t", bkaddr)
			fmt.Fprintln(w, str)
		}
	}

	w.Flush()
	return buf.String()
}
