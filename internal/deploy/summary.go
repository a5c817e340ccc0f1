package deploy

import (
	"fmt"

	"github.com/nixherd/nixherd/internal/target"
)

// Outcome is how a host's deploy ended.
type Outcome string

const (
	Switched     Outcome = "switched"      // new generation, running now
	Booted       Outcome = "booted"        // new generation, runs after a reboot
	Tested       Outcome = "tested"        // running now, no new generation
	DryActivated Outcome = "dry-activated" // nothing changed on the host
	Built        Outcome = "built"         // closure built, host not contacted
	WouldCopy    Outcome = "dry-run"       // --dry-run: copy computed, nothing changed
	Failed       Outcome = "failed"
	Refused      Outcome = "refused" // another deploy holds the host's lock
	Unreachable  Outcome = "unreachable"
)

func outcomeOf(a target.Action) Outcome {
	switch a {
	case target.Switch:
		return Switched
	case target.Boot:
		return Booted
	case target.Test:
		return Tested
	case target.DryActivate:
		return DryActivated
	}
	return Built
}

// Result is one host's outcome.
type Result struct {
	Machine  string  `json:"machine"`
	Target   string  `json:"target"`
	Platform string  `json:"platform,omitempty"`
	Outcome  Outcome `json:"outcome"`
	// Path is the closure deployed (or meant to be).
	Path string `json:"path,omitempty"`
	// Generation is the profile generation the host ended on (0 if none).
	Generation int `json:"generation,omitempty"`
	// PreviousGeneration is the generation before the deploy.
	PreviousGeneration int `json:"previousGeneration,omitempty"`
	// CopiedPaths and CopiedBytes count what was sent to the host (or, with
	// --dry-run, what would be).
	CopiedPaths int   `json:"copiedPaths"`
	CopiedBytes int64 `json:"copiedBytes"`
	// WouldCopy lists, for --dry-run, the store paths the host lacks.
	WouldCopy []string `json:"wouldCopy,omitempty"`
	Seconds   float64  `json:"seconds"`
	Error     string   `json:"error,omitempty"`
	Err       error    `json:"-"`
}

// OK reports whether the host ended where the action meant it to.
func (r Result) OK() bool {
	return r.Outcome != Failed && r.Outcome != Refused && r.Outcome != Unreachable && r.Outcome != RolledBack
}

// Summary is the outcome of a whole deploy.
type Summary struct {
	Action  target.Action `json:"action"`
	Results []Result      `json:"hosts"`
	// Evaluations is the number of nix evaluations of the flake (1).
	Evaluations int `json:"evaluations"`
	// SSHConnections is the number of SSH master connections opened.
	SSHConnections int     `json:"sshConnections"`
	Seconds        float64 `json:"seconds"`
	OK             bool    `json:"ok"`
}

// Failed lists the machines that did not end on their new configuration.
func (s *Summary) Failed() []string {
	var names []string
	for _, r := range s.Results {
		if !r.OK() {
			names = append(names, r.Machine)
		}
	}
	return names
}

// HumanBytes writes a size the way people read it.
func HumanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
