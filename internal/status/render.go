package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/ui"
)

// Report is the fleet's status as `nixherd status --json` prints it.
type Report struct {
	// InSync is true when every machine was reached and runs its desired
	// configuration.
	InSync   bool      `json:"inSync"`
	Machines []Machine `json:"machines"`
	// Time is when the machines were read (the oldest reading, when they
	// were read at different times).
	Time time.Time `json:"time"`
	// Release is the release a publisher serves and Rollout the rollout
	// record beside it (status --release, the dashboard).
	Release *Release        `json:"release,omitempty"`
	Rollout *rollout.Record `json:"rollout,omitempty"`
}

// NewReport summarises machines.
func NewReport(machines []Machine) Report {
	r := Report{InSync: true, Machines: machines, Time: time.Now().UTC()}
	if r.Machines == nil {
		r.Machines = []Machine{}
	}
	for _, m := range machines {
		r.InSync = r.InSync && m.InSync && m.Error == ""
	}
	return r
}

// Unreachable reports whether some machine could not be reached. A machine
// that was reached but could not be read, or whose configuration does not
// evaluate, is not unreachable: it has an Error.
func (r Report) Unreachable() bool {
	for _, m := range r.Machines {
		if !m.Reachable {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes one row per machine, then each machine's error on a
// line of its own (errors are too long for a column).
func (r Report) WriteTable(w io.Writer) error {
	rows := [][]string{{"MACHINE", "TARGET", "STATE", "GENERATION", "DEPLOYED", "RUNNING", "DESIRED"}}
	for _, m := range r.Machines {
		gen, date := "-", "-"
		if m.Generation != nil {
			gen = strconv.Itoa(m.Generation.Number)
			if !m.Generation.Date.IsZero() {
				date = m.Generation.Date.Format("2006-01-02 15:04")
			}
		}
		rows = append(rows, []string{m.Name, m.Target, m.State(), gen, date,
			orDash(ShortPath(m.Running)), orDash(ShortPath(m.Desired))})
	}
	if err := ui.Table(w, rows); err != nil {
		return err
	}
	for _, m := range r.Machines {
		if m.Error != "" {
			msg := m.Error
			if !strings.HasPrefix(msg, m.Name+":") {
				msg = m.Name + ": " + msg
			}
			fmt.Fprintln(w, ui.EscapeText(msg))
		}
		if a := m.Agent; a != nil {
			if f := a.LastFailure; a.Failing && f != nil {
				// The agent's words, like a host's: escaped.
				first, _, _ := strings.Cut(f.Error, "\n")
				fmt.Fprintf(w, "%s: release %d failed at %s: %s\n", m.Name, f.Release, ui.Escape(string(f.Stage)), ui.Escape(first))
			}
		}
		if m.NeedsReboot {
			fmt.Fprintf(w, "%s: needs a reboot (its kernel, initrd or kernel modules changed)\n", m.Name)
		}
		if m.Stale && m.Reachable && m.LastSeen != nil {
			fmt.Fprintf(w, "%s: stale: its agent last polled at %s\n", m.Name, m.LastSeen.Local().Format(time.DateTime))
		}
		if d := m.LastDeploy; d != nil && m.Agent == nil && d.Error != "" && !m.InSync {
			fmt.Fprintf(w, "%s: last deploy %s at %s: %s\n", m.Name, d.Outcome, ui.Escape(d.Stage), ui.Escape(d.Error))
		}
	}
	if rel := r.Release; rel != nil {
		fmt.Fprintf(w, "release %d published %s (%s)\n", rel.Number, rel.Time.Local().Format(time.DateTime), rel.Manifest)
	}
	if ro := r.Rollout; ro != nil {
		kind := ro.Kind
		if kind == "" {
			kind = "pull"
		}
		fmt.Fprintf(w, "%s rollout started %s, %s: %s\n", kind, ro.Started.Local().Format(time.DateTime), ro.State, ui.Escape(ro.Message))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
