package watchdog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Guard is the deployer's half of a guarded activation: start the watchdog,
// wait for the activation, run the health checks, confirm over a fresh
// connection and collect the outcome.
type Guard struct {
	Params Params
	// Host is the machine's usual connection (the SSH master).
	Host Host
	// Fresh opens a new connection for the confirmation, so that a
	// confirmation proves a new login works after the activation; nil uses Host.
	Fresh func() Host
	// Check runs the machine's health checks after the activation and
	// returns the names of those that failed. Its context ends a few
	// seconds before the confirm timeout.
	Check func(ctx context.Context) (failed []string)
	// Poll is the pause between status reads (default 250ms).
	Poll time.Duration
	// Patience is how long an unreachable machine is waited for before it is
	// reported as such (default: the confirm timeout plus 20s).
	Patience time.Duration
	// Progress, when set, hears about each step.
	Progress func(step, detail string)

	aborted bool
}

// Result is how a guarded activation ended for the deploy summary.
type Result string

const (
	ResultCommitted   Result = "committed"
	ResultRolledBack  Result = "ROLLED BACK"
	ResultFailed      Result = "failed"
	ResultUnreachable Result = "unreachable"
	ResultInterrupted Result = "interrupted"
)

// Outcome of a guarded activation.
type Outcome struct {
	Result Result
	// Reason says why it was not committed.
	Reason string
	Status Status
	// ActivationLog is the tail of the activation's output when it failed.
	ActivationLog string
	Watch         *Watch
}

// OK reports whether the new generation was kept.
func (o Outcome) OK() bool { return o.Result == ResultCommitted }

func (g *Guard) progress(step, detail string) {
	if g.Progress != nil {
		g.Progress(step, detail)
	}
}

// Run performs the guarded activation. The error is non-nil only when ctx
// ended (an interrupt); the outcome then says what the machine will do.
func (g *Guard) Run(ctx context.Context) (Outcome, error) {
	g.defaults()
	g.progress("activate", "starting the watchdog")
	w, err := Start(ctx, g.Host, g.Params)
	if err != nil {
		if ctx.Err() != nil && w != nil {
			// The launcher may have started the watchdog before it was
			// stopped: ask it to roll back as after any interrupt.
			return g.interrupted(ctx, w, ctx.Err())
		}
		return Outcome{Result: ResultFailed, Reason: err.Error()}, nil
	}
	return g.follow(ctx, w)
}

// Resume takes over the watchdog that an earlier process started with the
// same Params (Params.ID names its state directory) and follows it to its
// end as Run would have: it waits for the activation, runs the checks,
// confirms and collects the outcome; a watchdog that already ended is
// reported as it ended. A pull agent restarted during a deployment (its own
// new version restarting it, say) finishes the deployment this way.
func (g *Guard) Resume(ctx context.Context) (Outcome, error) {
	if g.Params.ID == "" {
		return Outcome{}, errors.New("watchdog: resuming needs the ID of the run")
	}
	g.defaults()
	root := g.Params.StateRoot
	if root == "" {
		root = StateRoot
	}
	g.progress("activate", "resuming the watchdog "+g.Params.ID)
	return g.follow(ctx, &Watch{ID: g.Params.ID, Dir: root + "/" + g.Params.ID})
}

func (g *Guard) defaults() {
	if g.Poll <= 0 {
		g.Poll = 250 * time.Millisecond
	}
	if g.Patience <= 0 {
		g.Patience = g.confirmTimeout() + 20*time.Second
	}
}

func (g *Guard) confirmTimeout() time.Duration {
	if g.Params.ConfirmTimeout <= 0 {
		return DefaultConfirmTimeout
	}
	return g.Params.ConfirmTimeout
}

// follow waits for a started watchdog's activation, checks, confirms and
// collects the outcome.
func (g *Guard) follow(ctx context.Context, w *Watch) (Outcome, error) {
	timeout := g.confirmTimeout()
	out := Outcome{Watch: w}
	deadline := g.Params.ActivationTimeout
	if deadline <= 0 {
		deadline = DefaultActivationTimeout
	}
	g.progress("activate", fmt.Sprintf("activating; the host rolls back if that takes over %s", deadline))

	// Right after the launch the watchdog is starting or activating: the
	// first read waits on the machine for that to end.
	st, err := w.AwaitFrom(ctx, g.Host, "starting activating", func(s Status) bool { return s.State == Activated }, g.Poll, g.Patience)
	if err != nil {
		return g.interrupted(ctx, w, err)
	}
	if !Final(st.State) {
		g.progress("health", "activated; checking health")
		if g.Check != nil {
			// The checks must leave time to confirm before the machine
			// gives up waiting: they get the confirm timeout less a margin.
			budget := timeout - min(3*time.Second, timeout/4)
			cctx, cancel := context.WithTimeout(ctx, budget)
			failed := g.Check(cctx)
			cancel()
			if len(failed) > 0 {
				if ctx.Err() != nil {
					return g.interrupted(ctx, w, ctx.Err())
				}
				reason := "health check failed: " + strings.Join(failed, ", ")
				g.progress("rollback", reason)
				g.abort(ctx, w, reason)
			}
		}
		if ctx.Err() != nil {
			return g.interrupted(ctx, w, ctx.Err())
		}
		confirmed := Status{}
		if !g.aborted {
			g.progress("confirm", "confirming over a new connection")
			confirmed = g.confirm(ctx, w, timeout)
			if ctx.Err() != nil {
				return g.interrupted(ctx, w, ctx.Err())
			}
		}
		st = confirmed
		if !Final(st.State) {
			st, err = w.Await(ctx, g.Host, func(Status) bool { return false }, g.Poll, g.Patience)
			if err != nil {
				return g.interrupted(ctx, w, err)
			}
		}
	}
	return g.finish(ctx, w, out, st), nil
}

// confirm retries until the confirmation is recorded or the watchdog has
// decided otherwise; a fresh connection may fail transiently. It returns
// the status the confirming session saw last (final when the watchdog
// finished while it waited).
func (g *Guard) confirm(ctx context.Context, w *Watch, timeout time.Duration) Status {
	fresh := g.Host
	until := time.Now().Add(timeout + 5*time.Second)
	for time.Now().Before(until) && ctx.Err() == nil {
		if g.Fresh != nil {
			fresh = g.Fresh()
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		st, err := w.ConfirmAndWait(cctx, fresh)
		cancel()
		if err == nil && st.Decision != "" {
			return st
		}
		select {
		case <-ctx.Done():
		case <-time.After(g.Poll):
		}
	}
	return Status{}
}

func (g *Guard) abort(ctx context.Context, w *Watch, reason string) {
	g.aborted = true
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	w.Abort(actx, g.Host, reason)
}

func (g *Guard) finish(ctx context.Context, w *Watch, out Outcome, st Status) Outcome {
	out.Status = st
	switch st.State {
	case Committed:
		out.Result = ResultCommitted
	case RolledBack:
		out.Result, out.Reason = ResultRolledBack, st.Reason
	case Absent:
		out.Result, out.Reason = ResultFailed, "interrupted before the watchdog started: nothing was activated"
	default:
		out.Result, out.Reason = ResultFailed, st.Reason
	}
	if st.ActivationRC > 0 {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		out.ActivationLog = w.ActivationLog(lctx, g.Host)
		cancel()
	}
	return out
}

// interrupted handles an interrupt or a lost machine after the watchdog
// started: ask for a rollback now (best effort) and report what is known.
func (g *Guard) interrupted(ctx context.Context, w *Watch, cause error) (Outcome, error) {
	out := Outcome{Watch: w}
	if errors.Is(cause, ErrUnreachable) {
		out.Result = ResultUnreachable
		out.Reason = fmt.Sprintf("%v; without a confirmation the machine returns to its previous generation by itself (state in %s)", cause, w.Dir)
		return out, nil
	}
	g.progress("rollback", "interrupted; asking the watchdog to roll back")
	g.abort(ctx, w, "the deploy was interrupted")
	// Report the rollback if it ends soon; otherwise the watchdog carries on alone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	st, err := w.Await(wctx, g.Host, func(Status) bool { return false }, g.Poll, 15*time.Second)
	if err == nil && Final(st.State) {
		out = g.finish(wctx, w, out, st)
		return out, cause
	}
	out.Result = ResultInterrupted
	out.Reason = "interrupted; the watchdog on the machine rolls back by itself (state in " + w.Dir + ")"
	return out, cause
}
