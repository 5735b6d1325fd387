package transient

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIs(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	for err, want := range map[error]bool{
		fmt.Errorf("dial tcp 172.30.0.1:16443: connect: %w", syscall.ECONNREFUSED): true,
		apierrors.NewServiceUnavailable("restarting"):                              true,
		apierrors.NewNotFound(gr, "x"):                                             false,
		apierrors.NewForbidden(gr, "x", errors.New("no")):                          false,
		errors.New("something else"):                                               false,
	} {
		if got := Is(err); got != want {
			t.Errorf("Is(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestDoRetriesUntilTheServerIsBack(t *testing.T) {
	Backoff.Duration = time.Millisecond
	calls := 0
	err := Do(context.Background(), func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("connect: %w", syscall.ECONNREFUSED)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	calls = 0
	err = Do(context.Background(), func() error { calls++; return apierrors.NewNotFound(schema.GroupResource{}, "x") })
	if calls != 1 || !apierrors.IsNotFound(err) {
		t.Errorf("a final error was retried: %d calls, %v", calls, err)
	}
}
