package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
)

// Result is how the work on one machine ended, one row of the summary of a
// deploy (see FromDeploySummary) or a rollback.
type Result struct {
	Host    string `json:"host"`
	Outcome string `json:"outcome"` // "switched", "failed", "unreachable", ...
	// Generation is the profile generation the host ended on, 0 if unknown.
	Generation int           `json:"generation,omitempty"`
	StorePath  string        `json:"storePath,omitempty"`
	Duration   time.Duration `json:"-"`
	Error      string        `json:"error,omitempty"`
	OK         bool          `json:"ok"`

	// What only a deploy knows; the table shows the TARGET and COPIED
	// columns when some row has them. The deploy's JSON has its own schema
	// (deploy.Summary), so these stay out of this one.
	Target string `json:"-"`
	// CountsCopies is set by a deploy: CopiedPaths paths of CopiedBytes
	// were sent to the host (or, with --dry-run, would be; WouldCopy lists
	// them).
	CountsCopies bool     `json:"-"`
	CopiedPaths  int      `json:"-"`
	CopiedBytes  int64    `json:"-"`
	WouldCopy    []string `json:"-"`
}

// MarshalJSON adds the duration in seconds, which scripts read more easily
// than Go's nanoseconds.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Seconds float64 `json:"durationSeconds"`
	}{plain(r), roundSeconds(r.Duration)})
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond)) / float64(time.Second)
}

// WriteSummary writes the results as an aligned table, one row per
// machine, with an error's first line (the rest, such as an activation's
// log, was shown as it happened). Then the store paths each machine would
// receive (deploy --dry-run) and which machines failed.
func WriteSummary(w io.Writer, results []Result) error {
	type column struct {
		name string
		cell func(Result) string
	}
	columns := []column{{"MACHINE", func(r Result) string { return r.Host }}}
	if slices.ContainsFunc(results, func(r Result) bool { return r.Target != "" }) {
		columns = append(columns, column{"TARGET", func(r Result) string { return r.Target }})
	}
	columns = append(columns,
		column{"OUTCOME", func(r Result) string { return r.Outcome }},
		column{"GENERATION", func(r Result) string { return orDash(r.Generation > 0, strconv.Itoa(r.Generation)) }})
	if slices.ContainsFunc(results, func(r Result) bool { return r.CountsCopies }) {
		columns = append(columns, column{"COPIED", func(r Result) string {
			if r.CopiedPaths == 0 {
				return "0"
			}
			return fmt.Sprintf("%d (%s)", r.CopiedPaths, deploy.HumanBytes(r.CopiedBytes))
		}})
	}
	columns = append(columns,
		column{"STORE PATH", func(r Result) string { return orDash(r.StorePath != "", r.StorePath) }},
		column{"DURATION", func(r Result) string { return formatElapsed(r.Duration) }},
		column{"ERROR", func(r Result) string {
			first, _, _ := strings.Cut(strings.TrimSpace(r.Error), "\n")
			return first
		}})

	rows := make([][]string, 0, 1+len(results))
	header := make([]string, len(columns))
	for i, c := range columns {
		header[i] = c.name
	}
	rows = append(rows, header)
	var failed []string
	for _, r := range results {
		row := make([]string, len(columns))
		for i, c := range columns {
			row[i] = c.cell(r)
		}
		rows = append(rows, row)
		if !r.OK {
			failed = append(failed, r.Host)
		}
	}
	if err := Table(w, rows); err != nil {
		return err
	}
	for _, r := range results {
		if len(r.WouldCopy) > 0 {
			fmt.Fprintf(w, "%s would receive:\n", r.Host)
			for _, p := range r.WouldCopy {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "%d of %d machines failed: %s\n", len(failed), len(results), strings.Join(failed, ", "))
	}
	return nil
}

// orDash is s when known, else "-".
func orDash(known bool, s string) string {
	if !known {
		return "-"
	}
	return s
}

// Summary is the --json form of a run's results.
type Summary struct {
	OK    bool     `json:"ok"`
	Hosts []Result `json:"hosts"`
}

// WriteSummaryJSON writes the results as one indented JSON object whose
// "ok" is true only when every host ended well.
func WriteSummaryJSON(w io.Writer, results []Result) error {
	s := Summary{OK: true, Hosts: results}
	if s.Hosts == nil {
		s.Hosts = []Result{}
	}
	for _, r := range results {
		s.OK = s.OK && r.OK
	}
	return WriteJSON(w, s)
}

// WriteJSON writes v as indented JSON: the --json output of every command.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
