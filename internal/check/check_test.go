package check

import (
	"path/filepath"
	"testing"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/fleetgen"
)

// TestGeneratedFleetIsClean checks that a generated fleet, which keeps every
// rule, gets no finding and that the model sees all of it.
func TestGeneratedFleetIsClean(t *testing.T) {
	dir := t.TempDir()
	if _, err := fleetgen.Generate(dir, fleetgen.Options{Machines: 20, Files: 120, Services: 5}); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := Fleet(f, Env{})
	for _, fd := range r.Findings {
		t.Errorf("unexpected finding: %s [%s]", fd, fd.Rule)
	}
	if len(f.Machines) != 20 || len(f.Services) != 5 || len(f.Secrets) != 2 || len(f.Inputs) != 9 {
		t.Errorf("model: %d machines, %d services, %d secrets, %d inputs", len(f.Machines), len(f.Services), len(f.Secrets), len(f.Inputs))
	}
	for _, m := range f.Machines {
		if m.System == "" || len(m.Files) < 5 || !m.StateVersionFound {
			t.Errorf("machine %s: system %q, %d files, stateVersion %v", m.Name, m.System, len(m.Files), m.StateVersionFound)
		}
	}
}

// BenchmarkGeneratedFleet reads and checks a fleet of the size
// scripts/bench-check.sh uses; run it with -cpuprofile to see where time goes.
func BenchmarkGeneratedFleet(b *testing.B) {
	dir := b.TempDir()
	if _, err := fleetgen.Generate(dir, fleetgen.Options{Machines: 200, Files: 2000, Services: 20}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := fleet.Read(dir)
		if err != nil {
			b.Fatal(err)
		}
		if r := Fleet(f, Env{}); len(r.Findings) > 0 {
			b.Fatal(r.Findings[0])
		}
	}
}

// TestReferenceFleetPasses checks examples/fleet: no error, and no warning
// but the missing flake.lock (the example cannot pin GitHub inputs offline).
func TestReferenceFleetPasses(t *testing.T) {
	f, err := fleet.Read(filepath.Join("..", "..", "examples", "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range Fleet(f, Env{}).Findings {
		if fd.Severity == Error || fd.Rule != "flake-lock" {
			t.Errorf("%s [%s]", fd, fd.Rule)
		}
	}
}
