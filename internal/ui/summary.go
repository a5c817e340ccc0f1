package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/report"
)

// WriteSummary writes a run's results as an aligned table, one row per
// machine, with an error's first line (the rest, such as an activation's
// log, was shown as it happened). A machine that did not end well shows its
// error, not the store path it was meant to run. Then the store paths each
// machine would receive (deploy --dry-run) and which machines failed.
func WriteSummary(w io.Writer, s *report.Summary) error {
	results := s.Machines
	type column struct {
		name string
		cell func(report.Result) string
	}
	columns := []column{{"MACHINE", func(r report.Result) string { return r.Machine }}}
	if slices.ContainsFunc(results, func(r report.Result) bool { return r.Target != "" }) {
		columns = append(columns, column{"TARGET", func(r report.Result) string { return r.Target }})
	}
	columns = append(columns,
		column{"OUTCOME", func(r report.Result) string { return string(r.Outcome) }},
		column{"GENERATION", func(r report.Result) string { return orDash(r.Generation > 0, strconv.Itoa(r.Generation)) }})
	if slices.ContainsFunc(results, func(r report.Result) bool { return r.Copied != nil }) {
		columns = append(columns, column{copiedHeading(results), func(r report.Result) string {
			if r.Copied == nil || r.Copied.Paths == 0 {
				return "0"
			}
			return fmt.Sprintf("%d (%s)", r.Copied.Paths, report.HumanBytes(r.Copied.Bytes))
		}})
	}
	columns = append(columns,
		column{"STORE PATH", func(r report.Result) string { return orDash(r.Path != "" && r.Error == "", r.Path) }},
		column{"DURATION", func(r report.Result) string {
			return formatElapsed(time.Duration(r.Seconds * float64(time.Second)))
		}},
		column{"ERROR", func(r report.Result) string {
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
		if !r.OK() {
			failed = append(failed, r.Machine)
		}
	}
	if err := Table(w, rows); err != nil {
		return err
	}
	for _, r := range results {
		if out := strings.TrimRight(r.Output, "\n"); out != "" {
			fmt.Fprintf(w, "%s %s:\n", r.Machine, r.Outcome)
			for _, l := range strings.Split(out, "\n") {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
	for _, r := range results {
		if len(r.WouldCopy) > 0 {
			fmt.Fprintf(w, "%s would receive:\n", Escape(r.Machine))
			for _, p := range r.WouldCopy {
				fmt.Fprintf(w, "  %s\n", Escape(p))
			}
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "%d of %d machines failed: %s\n", len(failed), len(results), Escape(strings.Join(failed, ", ")))
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

// copiedHeading is COPIED, or TO COPY for a dry run, whose hosts received
// nothing.
func copiedHeading(results []report.Result) string {
	for _, r := range results {
		if r.Outcome != report.WouldCopy && r.Copied != nil {
			return "COPIED"
		}
	}
	return "TO COPY"
}

// WriteJSON writes v as indented JSON: the --json output of every command.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
