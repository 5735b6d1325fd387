package main

import (
	"context"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// runAgentPod: `kpr-lab-node agent-pod [--watch]` prints the UID of this
// node's (KPR_LAB_NODE) live Cilium agent pod (label k8s-app=cilium,
// spec.nodeName = the node, no deletionTimestamp; the newest if several),
// or "-" when there is none. With --watch it polls every 2 s and prints a
// line each time that changes (the first answer included); API errors are
// reported on stderr and the poll goes on. node-init.sh starts and
// restarts a real-agent node's cilium-agent from these lines, as a
// kubelet runs the pod's containers again when the DaemonSet re-creates
// the pod.
func runAgentPod(args []string) int {
	watch := len(args) == 1 && args[0] == "--watch"
	if len(args) > 1 || (len(args) == 1 && !watch) {
		fmt.Fprintln(os.Stderr, "usage: kpr-lab-node agent-pod [--watch]")
		return 2
	}
	node := os.Getenv("KPR_LAB_NODE")
	if node == "" {
		fmt.Fprintln(os.Stderr, "agent-pod: KPR_LAB_NODE is not set")
		return 2
	}
	cs, err := clientset()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent-pod:", err)
		return 1
	}
	last, printed := "", false
	for {
		uid, err := liveAgentPod(context.Background(), cs, node)
		switch {
		case err != nil && !watch:
			fmt.Fprintln(os.Stderr, "agent-pod:", err)
			return 1
		case err != nil:
			fmt.Fprintln(os.Stderr, "agent-pod:", err)
		case !printed || uid != last:
			if uid == "" {
				fmt.Println("-")
			} else {
				fmt.Println(uid)
			}
			last, printed = uid, true
		}
		if !watch {
			return 0
		}
		time.Sleep(2 * time.Second)
	}
}

func liveAgentPod(ctx context.Context, cs kubernetes.Interface, node string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		LabelSelector: "k8s-app=cilium",
		FieldSelector: "spec.nodeName=" + node,
	})
	if err != nil {
		return "", fmt.Errorf("list the agent pods of %s: %w", node, err)
	}
	uid, newest := "", time.Time{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if uid == "" || p.CreationTimestamp.After(newest) {
			uid, newest = string(p.UID), p.CreationTimestamp.Time
		}
	}
	return uid, nil
}
