// Package dashboard serves the fleet view of `nixherd dashboard`: one web
// page with every machine, pushed and pulled, what it should run and what
// it runs, in sync or not and since when, its last deployment and where it
// failed, who needs a reboot, whose agent is stale, and a rollout under
// way with its waves.
//
// The data is `nixherd status --json`'s (internal/status: one model), kept
// in a cache: pulled machines, the release and the rollout record are read
// often (their agents' /status and two small files: cheap), pushed machines
// over ssh and the flake's evaluation seldom. /status.json serves the same
// report as JSON.
//
// Everything the page needs is in the binary (html/template, embedded CSS
// and a few lines of plain JavaScript that fetch the fleet part again and
// swap it in; without JavaScript a meta refresh reloads the page). What
// hosts and agents report is text, escaped by html/template, never markup.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
)

// Defaults of Options.
const (
	DefaultPushEvery = time.Minute
	DefaultPullEvery = 5 * time.Second
)

// Options say what the dashboard shows and how often it reads it.
type Options struct {
	Machines []hosts.Machine
	// Status says how machines are evaluated and reached.
	Status status.Options
	// Release is where the release manifest and the rollout record are
	// read (publish's --to, or the manifest's URL); "" for none.
	Release string
	// PushRecord is where push rollouts of the fleet keep their record
	// (rollout.PushRecordFile); "" for none. The page shows the rollout
	// started last, push or pull.
	PushRecord string
	// PushEvery is how often the flake is evaluated and pushed machines
	// are read over ssh; PullEvery how often agents, the release and the
	// rollout record are read (and the page refreshes itself).
	PushEvery time.Duration
	PullEvery time.Duration
	// Evaluate and Read stand in for status.Evaluate and status.Read
	// (tests).
	Evaluate func(ctx context.Context, machines []hosts.Machine) ([]plan.Closure, error)
	Read     func(ctx context.Context, closures []plan.Closure) ([]status.Machine, error)
	Now      func() time.Time
}

// Server keeps the fleet's view fresh and serves it.
type Server struct {
	o Options

	mu       sync.Mutex
	closures []plan.Closure
	byName   map[string]status.Machine
	read     map[string]time.Time
	release  *status.Release
	rollout  *rollout.Record   // the latest of pulled and pushed
	pulled   *rollout.Record   // beside the release
	pushed   *rollout.Record   // at PushRecord
	problems map[string]string // what could not be read: evaluation, release
	page     *template.Template
}

// New prepares a server; Run keeps its data fresh.
func New(o Options) *Server {
	if o.PushEvery <= 0 {
		o.PushEvery = DefaultPushEvery
	}
	if o.PullEvery <= 0 {
		o.PullEvery = DefaultPullEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Evaluate == nil {
		o.Evaluate = func(ctx context.Context, ms []hosts.Machine) ([]plan.Closure, error) {
			return plan.Evaluate(ctx, o.Status.Nix, o.Status.Flake, ms)
		}
	}
	if o.Read == nil {
		o.Read = func(ctx context.Context, cs []plan.Closure) ([]status.Machine, error) {
			return status.Read(ctx, cs, o.Status)
		}
	}
	return &Server{o: o, byName: map[string]status.Machine{}, read: map[string]time.Time{}, problems: map[string]string{},
		page: template.Must(template.New("dashboard").Funcs(funcs).ParseFS(files, "page.html"))}
}

//go:embed page.html style.css refresh.js
var files embed.FS

// Run refreshes the view until ctx ends: the pushed side every PushEvery,
// the pulled side every PullEvery, each in a goroutine of its own so that
// a slow ssh login never holds the agents' view back.
func (s *Server) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		every(ctx, s.o.PushEvery, s.refreshPush)
	}()
	go func() {
		defer wg.Done()
		every(ctx, s.o.PullEvery, s.refreshPull)
	}()
	wg.Wait()
}

func every(ctx context.Context, d time.Duration, f func(context.Context)) {
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// refreshPush evaluates the flake (every machine's desired path) and reads
// the pushed machines.
func (s *Server) refreshPush(ctx context.Context) {
	cs, err := s.o.Evaluate(ctx, s.o.Machines)
	if err != nil {
		s.problem("evaluation", "the flake could not be evaluated: "+err.Error())
		return
	}
	s.problem("evaluation", "")
	s.mu.Lock()
	s.closures = cs
	s.mu.Unlock()
	s.readSome(ctx, cs, false)
}

// refreshPull reads the pulled machines' agents, the release and the
// rollout record.
func (s *Server) refreshPull(ctx context.Context) {
	s.mu.Lock()
	cs := s.closures
	s.mu.Unlock()
	if cs == nil {
		// No evaluation yet: the agents still say what runs.
		for _, m := range s.o.Machines {
			cs = append(cs, plan.Closure{Machine: m, Platform: m.Platform})
		}
	}
	s.readSome(ctx, cs, true)
	// What cannot be read now keeps what was read before, with a problem
	// shown on the page.
	s.mu.Lock()
	rel, pulled, pushed := s.release, s.pulled, s.pushed
	s.mu.Unlock()
	if s.o.Release != "" {
		if r, rec, err := status.ReadRelease(ctx, s.o.Release); err != nil {
			s.problem("release", err.Error())
		} else {
			s.problem("release", "")
			rel, pulled = r, rec
		}
	}
	if s.o.PushRecord != "" {
		if rec, err := rollout.ReadRecord(s.o.PushRecord); err != nil {
			s.problem("push rollout", err.Error())
		} else {
			s.problem("push rollout", "")
			pushed = rec
		}
	}
	s.mu.Lock()
	s.release, s.pulled, s.pushed = rel, pulled, pushed
	s.rollout = rollout.Latest(pulled, pushed)
	s.mu.Unlock()
}

func (s *Server) readSome(ctx context.Context, cs []plan.Closure, pulled bool) {
	var some []plan.Closure
	for _, c := range cs {
		if (c.Machine.Pull != nil) == pulled {
			some = append(some, c)
		}
	}
	if len(some) == 0 {
		return
	}
	ms, err := s.o.Read(ctx, some)
	if err != nil || ctx.Err() != nil {
		return
	}
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		s.byName[m.Name] = m
		s.read[m.Name] = now
	}
}

func (s *Server) problem(what, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg == "" {
		delete(s.problems, what)
	} else {
		s.problems[what] = msg
	}
}

// Report is the view as `nixherd status --json` has it: machines not read
// yet are left out, Time is the oldest reading.
func (s *Server) Report() status.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []status.Machine
	oldest := time.Time{}
	for _, m := range s.o.Machines {
		got, ok := s.byName[m.Name]
		if !ok {
			continue
		}
		ms = append(ms, got)
		if t := s.read[m.Name]; oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	r := status.NewReport(ms)
	if !oldest.IsZero() {
		r.Time = oldest.UTC()
	}
	r.Release, r.Rollout = s.release, s.rollout
	return r
}

// Handler serves the page (/), its fleet part alone (/?part=fleet, what
// the page fetches to refresh itself) and /status.json.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		v := s.view()
		name := "page"
		if r.URL.Query().Get("part") == "fleet" {
			name = "fleet"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// No script, style or frame from anywhere else, ever.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		if err := s.page.ExecuteTemplate(w, name, v); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Report())
	})
	for name, kind := range map[string]string{"refresh.js": "text/javascript", "style.css": "text/css"} {
		data, _ := files.ReadFile(name)
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", kind+"; charset=utf-8")
			w.Write(data)
		})
	}
	return mux
}

// machinesSorted is the selected machines by name.
func (s *Server) machinesSorted() []hosts.Machine {
	ms := append([]hosts.Machine{}, s.o.Machines...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms
}
