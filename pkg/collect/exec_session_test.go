package collect

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// An exec is a new TLS connection each time. With the shared session
// cache, the handshakes after the first resume the session; with client-go
// alone, none does (the control case, so that the test can fail).
func TestExecConnectionsResumeTLSSessions(t *testing.T) {
	var full, resumed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no exec here", http.StatusNotFound) // the upgrade fails; the handshake is what counts
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, VerifyConnection: func(cs tls.ConnectionState) error {
		if cs.DidResume {
			resumed.Add(1)
		} else {
			full.Add(1)
		}
		return nil
	}}
	srv.StartTLS()
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	cs := kubernetes.NewForConfigOrDie(cfg)

	run := func(ex *RemoteExecutor) (int32, int32) {
		full.Store(0)
		resumed.Store(0)
		for i := 0; i < 4; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := ex.Exec(ctx, "ns", "pod", "c", []string{"true"})
			cancel()
			if err == nil {
				t.Fatal("exec against a server without exec succeeded")
			}
		}
		return full.Load(), resumed.Load()
	}
	f, r := run(NewRemoteExecutor(cfg, cs))
	if f != 1 || r < 3 {
		t.Errorf("with the session cache: %d full handshakes, %d resumed; want 1 full and the rest resumed", f, r)
	}
	plain := &RemoteExecutor{Config: rest.CopyConfig(cfg), Client: cs.CoreV1().RESTClient()}
	plain.Config.UserAgent = "control"
	f, r = run(plain)
	if r != 0 || f < 4 {
		t.Errorf("control without the cache: %d full, %d resumed; the test cannot tell the two apart", f, r)
	}
}
