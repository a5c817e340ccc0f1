package ui

import (
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// Result is how the work on one host ended, one row of the summary.
type Result struct {
	Host    string `json:"host"`
	Outcome string `json:"outcome"` // "switched", "failed", "unreachable", ...
	// Generation is the profile generation the host ended on, 0 if unknown.
	Generation int           `json:"generation,omitempty"`
	StorePath  string        `json:"storePath,omitempty"`
	Duration   time.Duration `json:"-"`
	Error      string        `json:"error,omitempty"`
	OK         bool          `json:"ok"`
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

// WriteSummary writes the results as an aligned table, one row per host.
func WriteSummary(w io.Writer, results []Result) error {
	rows := [][]string{{"HOST", "OUTCOME", "GENERATION", "STORE PATH", "DURATION", "ERROR"}}
	for _, r := range results {
		gen := "-"
		if r.Generation > 0 {
			gen = strconv.Itoa(r.Generation)
		}
		path := r.StorePath
		if path == "" {
			path = "-"
		}
		rows = append(rows, []string{r.Host, r.Outcome, gen, path, formatElapsed(r.Duration), oneLine(r.Error)})
	}
	return Table(w, rows)
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
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
