package gc

import (
	"reflect"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/target"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func gens(current int, ages ...time.Duration) []target.Generation {
	var gs []target.Generation
	for i, age := range ages {
		gs = append(gs, target.Generation{Number: i + 1, Date: now.Add(-age), Path: "/nix/store/g" + string(rune('a'+i)), Current: i+1 == current})
	}
	return gs
}

func TestDecideKeepsNewestCurrentRunningAndYoung(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		gens    []target.Generation
		o       Options
		running []string
		kept    []int
	}{
		{"newest 3", gens(6, 60*day, 50*day, 40*day, 30*day, 20*day, 10*day), Options{Keep: 3}, nil, []int{4, 5, 6}},
		{"current older than the kept ones", gens(2, 60*day, 50*day, 40*day, 30*day, 20*day), Options{Keep: 2}, nil, []int{2, 4, 5}},
		{"running older than the kept ones", gens(5, 60*day, 50*day, 40*day, 30*day, 20*day), Options{Keep: 1}, []string{"/nix/store/ga"}, []int{1, 5}},
		{"keep-since", gens(5, 60*day, 50*day, 12*day, 8*day, 1*day), Options{Keep: 1, KeepSince: 14 * day}, nil, []int{3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Now = now
			p := &profile{gens: tc.gens}
			p.decide(tc.o, tc.running)
			if !reflect.DeepEqual(p.Kept, tc.kept) {
				t.Errorf("kept %v, want %v (deleted %v)", p.Kept, tc.kept, p.Deleted)
			}
			if len(p.Kept)+len(p.Deleted) != len(tc.gens) {
				t.Errorf("kept %v and deleted %v do not cover %d generations", p.Kept, p.Deleted, len(tc.gens))
			}
		})
	}
}

func TestOptionsRefuseNonsense(t *testing.T) {
	for _, o := range []Options{{Keep: 0}, {Keep: -1}, {Keep: 1, KeepSince: -time.Hour}, {Keep: 1, MaxFreed: -1}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestParseSizeAndAge(t *testing.T) {
	for in, want := range map[string]int64{"2048": 2048, "500M": 500 << 20, "10G": 10 << 30, "1.5GiB": 3 << 29, "4k": 4096} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1G", "ten", "5X"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "1w2d": 9 * 24 * time.Hour, "1d12h": 36 * time.Hour} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-3d", "soon", "3y"} {
		if _, err := ParseAge(bad); err == nil {
			t.Errorf("ParseAge(%q) accepted", bad)
		}
	}
}

func TestParseFreed(t *testing.T) {
	if got := parseFreed("finding garbage collector roots...\n12 store paths deleted, 3.50 MiB freed\n"); got != int64(3.5*(1<<20)) {
		t.Errorf("parseFreed = %d", got)
	}
}
