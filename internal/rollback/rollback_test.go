package rollback

import (
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/target"
)

// gens is a profile whose generation 3 was deleted and whose current
// generation (4) is not the newest: a boot into 4 after deploying 5.
var gens = []target.Generation{
	{Number: 1, Path: "/nix/store/a-system"},
	{Number: 2, Path: "/nix/store/b-system"},
	{Number: 4, Path: "/nix/store/d-system", Current: true},
	{Number: 5, Path: "/nix/store/e-system"},
}

func TestChoosePreviousSkipsGaps(t *testing.T) {
	from, to, err := Choose(gens, 0)
	if err != nil || from.Number != 4 || to.Number != 2 || to.Path != "/nix/store/b-system" {
		t.Fatalf("Choose(previous) = %v → %v, %v; want 4 → 2 (b-system)", from, to, err)
	}
}

func TestChooseExplicitGeneration(t *testing.T) {
	_, to, err := Choose(gens, 5)
	if err != nil || to.Path != "/nix/store/e-system" {
		t.Fatalf("Choose(5) = %v, %v", to, err)
	}
}

func TestChooseErrors(t *testing.T) {
	for _, tc := range []struct {
		gens []target.Generation
		n    int
		want string
	}{
		{gens, 3, "there is no generation 3 (generations: 1, 2, 4, 5)"},
		{gens[:1:1], 0, "no generation of the profile is current"},
		{[]target.Generation{{Number: 1, Current: true}}, 0, "generation 1 is the oldest"},
		{nil, 0, "the profile has no generations"},
		{[]target.Generation{{Number: 1}, {Number: 2, Current: true, Path: "/nix/store/x"}}, 1, "generation 1 has no store path"},
	} {
		_, _, err := Choose(tc.gens, tc.n)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Choose(%v, %d) error = %v, want %q", tc.gens, tc.n, err, tc.want)
		}
	}
}
