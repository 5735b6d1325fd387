// Package collect gathers facts from a live cluster: API objects, output
// of commands exec'd in Cilium agents, debug pods and probes. It returns
// plain structs; deciding what they mean is pkg/interpret's job.
package collect

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	// client-go 0.37 returns k8s.io/streaming's UpgradeFailureError; the old
	// apimachinery copy is a different type, and with it the WebSocket->SPDY
	// fallback never fired (exec failed where kubectl exec works).
	"k8s.io/streaming/pkg/httpstream"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// Executor runs a command in a container and returns its output. The fake
// clientset cannot stream exec, so everything that execs takes this
// interface; tests give it canned outputs.
type Executor interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string) (ExecResult, error)
}

// ExecResult is what a finished command printed. A command that ran and
// exited non-zero is a result, not an error: Cilium's `status` exits 1 when
// the agent is unhealthy but still prints everything kpr needs.
type ExecResult struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// RemoteExecutor execs through the API server like `kubectl exec`.
type RemoteExecutor struct {
	Config *rest.Config
	Client rest.Interface // the core/v1 REST client
}

// NewRemoteExecutor builds an executor from a client config.
func NewRemoteExecutor(cfg *rest.Config, cs kubernetes.Interface) *RemoteExecutor {
	if cfg.UserAgent == "" {
		// The exec transports (WebSocket, SPDY) send config.UserAgent and
		// nothing else: without this, kpr's execs reach the API server's
		// audit log as "Go-http-client/1.1" while its other requests say
		// "kubectl-kpr/...".
		cfg = rest.CopyConfig(cfg)
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return &RemoteExecutor{Config: withSessionResumption(cfg), Client: cs.CoreV1().RESTClient()}
}

// withSessionResumption returns a copy of cfg whose exec transports share
// one TLS client session cache. Every exec is a new connection (an upgrade
// cannot share an HTTP/2 connection), so without it each one pays a full
// TLS handshake — 42% of kpr's CPU in a 1000-agent `status`
// (BENCHMARKS.md). With it, every handshake after the first resumes the
// session (TLS 1.3 PSK: no certificate exchange, no signature).
//
// client-go builds the exec round trippers (WebSocket and SPDY) from the
// rest.Config and gives no option for a session cache; but both hand their
// bare round tripper to the config's WrapTransport first, and both expose
// their *tls.Config through TLSClientConfig(). That is the hook used here,
// rather than a hand-written exec client.
func withSessionResumption(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cache := tls.NewLRUClientSessionCache(64)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		if h, ok := rt.(utilnet.TLSClientConfigHolder); ok {
			if c := h.TLSClientConfig(); c != nil && c.ClientSessionCache == nil {
				c.ClientSessionCache = cache
			}
		}
		return rt
	})
	return cfg
}

// Exec runs command with kubectl's transport choice: WebSocket (the
// v5.channel.k8s.io protocol, default since Kubernetes 1.30) and SPDY when
// the upgrade fails (older servers, proxies). KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false
// forces SPDY, as it does for kubectl.
func (e *RemoteExecutor) Exec(ctx context.Context, namespace, pod, container string, command []string) (ExecResult, error) {
	req := e.Client.Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	u := req.URL()
	spdy, err := remotecommand.NewSPDYExecutor(e.Config, http.MethodPost, u)
	if err != nil {
		return ExecResult{}, err
	}
	exec := spdy
	if !strings.EqualFold(os.Getenv("KUBECTL_REMOTE_COMMAND_WEBSOCKETS"), "false") {
		ws, err := remotecommand.NewWebSocketExecutor(e.Config, http.MethodGet, u.String())
		if err != nil {
			return ExecResult{}, err
		}
		exec, err = remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
		if err != nil {
			return ExecResult{}, err
		}
	}
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	res := ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		res.ExitCode = exitErr.ExitStatus()
		return res, nil
	}
	if err != nil {
		return res, ExplainExecError(err, namespace, pod)
	}
	return res, nil
}

// ExecError is an exec failure already worded for the operator: a missing
// permission or a timeout.
type ExecError struct {
	Forbidden bool
	TimedOut  bool
	msg       string
	err       error
}

func (e *ExecError) Error() string { return e.msg }
func (e *ExecError) Unwrap() error { return e.err }

// ExplainExecError turns transport and RBAC failures into a sentence an
// operator can act on (an *ExecError); an error it already explained, or
// any other, comes back as it is.
func ExplainExecError(err error, namespace, pod string) error {
	var explained *ExecError
	if err == nil || errors.As(err, &explained) {
		return err
	}
	// The "forbidden" text: the SPDY and WebSocket upgrades report a 403
	// as a plain error, not as an API status.
	if apierrors.IsForbidden(err) || strings.Contains(err.Error(), "forbidden") {
		return &ExecError{Forbidden: true, err: err,
			msg: fmt.Sprintf("forbidden: missing permission `create pods/exec` in namespace %s (exec into %s): %v", namespace, pod, textutil.FirstLine(err.Error()))}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &ExecError{TimedOut: true, err: err,
			msg: fmt.Sprintf("timed out waiting for exec into %s/%s (raise --timeout if the agent is just slow)", namespace, pod)}
	}
	return err
}

// IsCommandNotFound reports whether an exec failed because the binary is
// not in the container (the way the runtime says it, through the kubelet).
func IsCommandNotFound(res ExecResult, err error) bool {
	text := strings.ToLower(string(res.Stderr))
	if err != nil {
		text += " " + strings.ToLower(err.Error())
	}
	for _, s := range []string{"executable file not found", "no such file or directory", "not found in $path", "command not found"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	// 126/127 are the shell's "cannot execute" / "not found".
	return err == nil && (res.ExitCode == 127 || res.ExitCode == 126) && len(res.Stdout) == 0
}
