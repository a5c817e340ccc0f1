package fanout_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	var dials atomic.Int32
	f, err := fanout.New(machines("root@x", "root@y", "root@x"), fanout.Options{Dial: func(context.Context, hosts.Machine) (remote.Runner, error) {
		dials.Add(1)
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
	if dials.Load() != 2 || f.Dials() != 2 {
		t.Fatalf("%d dials (%d counted) for two hosts", dials.Load(), f.Dials())
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

// Warm opens every host's connection before Each needs it, and Each's
// machines then use those connections instead of dialling again.
func TestWarmDialsAheadOfEach(t *testing.T) {
	var mu sync.Mutex
	dialled := map[string]bool{}
	all := make(chan struct{})
	f, err := fanout.New(machines("root@x", "root@y", "root@x", "local"), fanout.Options{Dial: func(_ context.Context, m hosts.Machine) (remote.Runner, error) {
		mu.Lock()
		defer mu.Unlock()
		dialled[m.Target] = true
		if len(dialled) == 2 {
			close(all)
		}
		return remote.Local{}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Warm(context.Background())
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("Warm dialled %v, want both remote hosts", dialled)
	}
	f.Each(context.Background(), func(ctx context.Context, h *fanout.Host) {
		for _, i := range h.Machines {
			if _, err := h.Connect(ctx, h.Machine(i)); err != nil {
				t.Error(err)
			}
		}
	})
	if f.Dials() != 2 {
		t.Fatalf("%d dials for two remote hosts after Warm and Each", f.Dials())
	}
}

// A host Warm cannot reach reports its error to Connect, not before.
func TestWarmKeepsTheErrorForConnect(t *testing.T) {
	refused := errors.New("refused")
	f, err := fanout.New(machines("root@x"), fanout.Options{Dial: func(context.Context, hosts.Machine) (remote.Runner, error) {
		return nil, refused
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Warm(context.Background())
	h := f.Hosts()[0]
	if _, err := h.Connect(context.Background(), h.Machine(0)); !errors.Is(err, refused) {
		t.Fatalf("Connect after a failed warm dial: %v, want the dial's error", err)
	}
	if f.Dials() != 1 {
		t.Fatalf("%d dials, want the warm one alone", f.Dials())
	}
}

// Close stops the warm dials still under way and waits for them, so no
// connection outlives the run; Warm keeps to Parallel.
func TestCloseStopsWarmDials(t *testing.T) {
	var mu sync.Mutex
	running, most, stopped := 0, 0, 0
	started := make(chan struct{}, 8)
	f, err := fanout.New(machines("a@1", "a@2", "a@3", "a@4"), fanout.Options{Parallel: 2, Dial: func(ctx context.Context, _ hosts.Machine) (remote.Runner, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		started <- struct{}{}
		<-ctx.Done()
		mu.Lock()
		running--
		stopped++
		mu.Unlock()
		return nil, ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.Warm(context.Background())
	<-started
	<-started
	closed := make(chan struct{})
	go func() {
		f.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the warm dials")
	}
	mu.Lock()
	defer mu.Unlock()
	if running != 0 || stopped != 2 || most != 2 {
		t.Fatalf("after Close: %d dials running, %d stopped, at most %d at once; want 0, 2, 2", running, stopped, most)
	}
}
