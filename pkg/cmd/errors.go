package cmd

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// standardErrorMessage words transport and API errors the way kubectl's
// cmdutil.StandardErrorMessage does. It is a few lines rather than an
// import because k8s.io/kubectl/pkg/cmd/util pulls kubectl's whole command
// tree (OpenAPI validation, i18n, templates) into the plugin.
func standardErrorMessage(err error) (string, bool) {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		if s.Details != nil && s.Reason != "" {
			return fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error()), true
		}
		return fmt.Sprintf("Error from server: %s", err.Error()), true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		host := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
		if errors.Is(ue.Err, syscall.ECONNREFUSED) || strings.Contains(ue.Err.Error(), "connection refused") {
			return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", host), true
		}
		return fmt.Sprintf("Unable to connect to the server: %v", ue.Err), true
	}
	return "", false
}
