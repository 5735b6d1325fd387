// Command floor is the benchmark's lower bound for `kubectl kpr status`:
// the least a client-go program must do to get every agent's status. It
// lists the Cilium agent pods, execs `cilium-dbg status -o json` in each,
// 32 at a time over WebSocket, and discards the output. No parsing, no
// fallbacks, no report: whatever kpr spends above this is kpr's own cost.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	parallel := flag.Int("parallel", 32, "execs in flight")
	flag.Parse()
	if err := run(*kubeconfig, *parallel); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string, parallel int) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// Same client limits as kpr, so the rate limiter is not what differs.
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "kpr-bench-floor"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=cilium"})
	if err != nil {
		return err
	}
	var failed atomic.Int32
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range pods.Items {
		p := &pods.Items[i]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(p.Name).
				SubResource("exec").VersionedParams(&corev1.PodExecOptions{
				Container: "cilium-agent",
				Command:   []string{"cilium-dbg", "status", "-o", "json"},
				Stdout:    true,
				Stderr:    true,
			}, scheme.ParameterCodec).URL()
			ex, err := remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, u.String())
			if err == nil {
				err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
			}
			if err != nil {
				failed.Add(1)
				fmt.Fprintf(os.Stderr, "floor: %s/%s: %v\n", p.Namespace, p.Name, err)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d execs failed", n, len(pods.Items))
	}
	return nil
}
