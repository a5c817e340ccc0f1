// Package fanout runs work on many hosts at once, the one way every command
// that reaches the fleet does it (deploy, status, diff, rollback, gc, exec):
// at most Parallel hosts at a time, in the order given, one connection per
// host (machines that share a target, such as a Mac and its user's home,
// share it), and nothing new started once the context is done.
//
// A host's connection is opened by the first machine that needs it, or
// ahead of time by Warm while the run does something else (a deploy
// evaluates and builds), and kept for the whole run, so that a command
// making several passes over the fleet (rollback plans, then applies) logs
// in once per host.
package fanout

import (
	"context"
	"sync"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/remote"
)

// DefaultParallel is how many hosts are worked on at once by default.
const DefaultParallel = 10

// Options say how to reach the hosts.
type Options struct {
	// Parallel bounds the hosts worked on at once (default DefaultParallel).
	Parallel int
	// SSHOptions are extra ssh arguments for every host; they take
	// precedence over the machine's own from deploy.nix.
	SSHOptions []string
	// SudoPassword is given to sudo on hosts whose deploy user's sudo asks
	// for one (through stdin, never argv).
	SudoPassword []byte
	// Local runs the commands of machines whose target is "local"
	// (default remote.Local).
	Local remote.Runner
	// Dial opens a host's connection for its first machine m (default: a
	// master SSH connection with SSHOptions, then the machine's own). Tests
	// pass simulated hosts here.
	Dial func(ctx context.Context, m hosts.Machine) (remote.Runner, error)
}

// Fleet is the hosts of one run and their connections.
type Fleet struct {
	opts     Options
	pool     *remote.Pool
	machines []hosts.Machine
	hosts    []*Host

	mu    sync.Mutex
	dials int

	// Warm's dials, stopped and waited for by Close.
	warmStop context.CancelFunc
	warming  sync.WaitGroup
}

// Host is one host of the run: the machines deployed to its target.
type Host struct {
	fleet *Fleet
	// Index is the host's place in Hosts().
	Index int
	// Machines are the indexes of its machines in the slice given to New,
	// in that slice's order.
	Machines []int

	once   sync.Once
	runner remote.Runner
	err    error
}

// New groups machines by host. Close the fleet to end its connections.
func New(machines []hosts.Machine, o Options) (*Fleet, error) {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Local == nil {
		o.Local = remote.Local{}
	}
	pool, err := remote.NewPool()
	if err != nil {
		return nil, err
	}
	pool.SetSudoPassword(o.SudoPassword)
	f := &Fleet{opts: o, pool: pool, machines: machines}
	for i, idx := range hosts.ByTarget(machines) {
		f.hosts = append(f.hosts, &Host{fleet: f, Index: i, Machines: idx})
	}
	return f, nil
}

// Hosts lists the hosts in the order their first machine was given.
func (f *Fleet) Hosts() []*Host { return f.hosts }

// Dials counts the SSH connections opened so far.
func (f *Fleet) Dials() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

// Close stops Warm's dials still under way and ends every connection.
func (f *Fleet) Close() error {
	if f.warmStop != nil {
		f.warmStop()
		f.warming.Wait()
	}
	return f.pool.Close()
}

// Warm starts opening the hosts' connections in the background, at most
// Parallel at once and in order, and returns at once: the handshakes then
// overlap what comes before the hosts are needed (a deploy's evaluation
// and build, which take longer than logging in to a fleet). A host's
// connection is the one Connect would open, for the host's first machine;
// its error waits for Connect, as if it had dialled then, so that a run
// which stops before it needs the hosts reports nothing about them. Call
// it once, before Each; Close stops the dials still under way.
func (f *Fleet) Warm(ctx context.Context) {
	ctx, f.warmStop = context.WithCancel(ctx)
	f.warming.Add(1)
	go func() {
		defer f.warming.Done()
		slots := make(chan struct{}, f.opts.Parallel)
		for _, h := range f.hosts {
			m := f.machines[h.Machines[0]]
			if m.Local() {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if ctx.Err() != nil {
				return // a slot and the stop came together
			}
			f.warming.Add(1)
			go func() {
				defer f.warming.Done()
				defer func() { <-slots }()
				h.Connect(ctx, m)
			}()
		}
	}()
}

// Each runs do for every host, at most Parallel at once, hosts in order.
// Once ctx is done it starts no new host: it returns the hosts it did not
// start (do never saw them), whose machines were not touched.
func (f *Fleet) Each(ctx context.Context, do func(ctx context.Context, h *Host)) (notStarted []*Host) {
	next := make(chan *Host)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(f.opts.Parallel, len(f.hosts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range next {
				if ctx.Err() != nil {
					mu.Lock()
					notStarted = append(notStarted, h)
					mu.Unlock()
					continue
				}
				do(ctx, h)
			}
		}()
	}
	for _, h := range f.hosts {
		next <- h
	}
	close(next)
	wg.Wait()
	return notStarted
}

// Connect returns the host's runner, named after machine m for messages:
// this machine for a "local" target, else the host's master SSH
// connection, opened on first use (an unreachable host's error is a
// *remote.ConnectError, returned to every machine of the host).
func (h *Host) Connect(ctx context.Context, m hosts.Machine) (remote.Runner, error) {
	f := h.fleet
	if m.Local() {
		return f.opts.Local, nil
	}
	h.once.Do(func() {
		f.mu.Lock()
		f.dials++
		f.mu.Unlock()
		h.runner, h.err = f.dial(ctx, m)
	})
	if h.err != nil {
		return nil, h.err
	}
	if s, ok := h.runner.(*remote.SSH); ok {
		return s.As(m.Name), nil
	}
	return h.runner, nil
}

func (f *Fleet) dial(ctx context.Context, m hosts.Machine) (remote.Runner, error) {
	if f.opts.Dial != nil {
		return f.opts.Dial(ctx, m)
	}
	s, err := f.pool.Dial(ctx, m.Name, m.Address, remote.MergeOptions(f.opts.SSHOptions, m.SSHOptions))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Names lists the names of the host's machines.
func (h *Host) Names() []string {
	names := make([]string, len(h.Machines))
	for i, m := range h.Machines {
		names[i] = h.fleet.machines[m].Name
	}
	return names
}

// Target is the host's target, as deploy.nix writes it.
func (h *Host) Target() string { return h.fleet.machines[h.Machines[0]].Target }

// Machine returns the host's i-th machine (an index of Machines).
func (h *Host) Machine(i int) hosts.Machine { return h.fleet.machines[i] }
