package fanout_test

import (
	"context"
	"sync"
	"testing"

	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
)

func machines(targets ...string) []hosts.Machine {
	var ms []hosts.Machine
	for i, t := range targets {
		a, _ := remote.ParseAddress(t)
		ms = append(ms, hosts.Machine{Name: string(rune('a' + i)), Target: t, Address: a})
	}
	return ms
}

// Machines that share a target share a host and its one connection.
func TestMachinesOfOneTargetShareAConnection(t *testing.T) {
	dials := 0
	f, err := fanout.New(machines("root@x", "root@y", "root@x"), fanout.Options{Dial: func(context.Context, hosts.Machine) (remote.Runner, error) {
		dials++
		return remote.Local{}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Hosts()) != 2 || len(f.Hosts()[0].Machines) != 2 {
		t.Fatalf("hosts %+v", f.Hosts())
	}
	f.Each(context.Background(), func(ctx context.Context, h *fanout.Host) {
		for _, i := range h.Machines {
			if _, err := h.Connect(ctx, h.Machine(i)); err != nil {
				t.Error(err)
			}
		}
	})
	if dials != 2 || f.Dials() != 2 {
		t.Fatalf("%d dials (%d counted) for two hosts", dials, f.Dials())
	}
}

// At most Parallel hosts run at once.
func TestEachIsBounded(t *testing.T) {
	f, err := fanout.New(machines("a@1", "a@2", "a@3", "a@4", "a@5", "a@6"), fanout.Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mu sync.Mutex
	running, most := 0, 0
	gate := make(chan struct{})
	done := make(chan struct{})
	go func() {
		f.Each(context.Background(), func(context.Context, *fanout.Host) {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			<-gate
			mu.Lock()
			running--
			mu.Unlock()
		})
		close(done)
	}()
	for range 6 {
		gate <- struct{}{}
	}
	<-done
	if most > 2 {
		t.Fatalf("%d hosts at once, want at most 2", most)
	}
}
