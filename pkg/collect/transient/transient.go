// Package transient retries API calls that failed because the API server
// was briefly away (restarting, overloaded, a connection reset), so that
// kpr's cleanup does not leave its pods and namespaces behind after a
// control-plane hiccup. It uses client-go's retry.OnError; what counts as
// transient is decided here.
package transient

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// Backoff spans about 30 s: long enough for an API server restart, short
// enough that a dead cluster is reported in reasonable time.
var Backoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.1, Steps: 10, Cap: 5 * time.Second}

// Is reports whether err is worth retrying.
func Is(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Do runs fn until it succeeds, fails for good, Backoff runs out or ctx
// ends; it returns fn's last error.
func Do(ctx context.Context, fn func() error) error {
	return retry.OnError(Backoff, func(err error) bool { return ctx.Err() == nil && Is(err) }, fn)
}
