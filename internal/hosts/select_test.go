package hosts

import (
	"reflect"
	"strings"
	"testing"
)

func sampleInventory() *Inventory {
	return &Inventory{File: "deploy.nix", Machines: []Machine{
		{Name: "devmac", Tags: []string{"mac", "dev"}},
		{Name: "devnix", Tags: []string{"vm", "linux", "dev"}},
		{Name: "ephem", Tags: []string{"vm", "linux"}},
		{Name: "web1", Tags: []string{"web"}},
	}}
}

func names(ms []Machine) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		sel  []string
		all  bool
		want []string
	}{
		{[]string{"devnix"}, false, []string{"devnix"}},
		{[]string{"dev*"}, false, []string{"devmac", "devnix"}},
		{[]string{"@vm"}, false, []string{"devnix", "ephem"}},
		{[]string{"vm"}, false, nil}, // a bare word is a name, not a tag
		{[]string{"web1,@mac"}, false, []string{"devmac", "web1"}},
		{[]string{"ephem", "@dev", "devnix"}, false, []string{"devmac", "devnix", "ephem"}},
		{[]string{"e?hem"}, false, []string{"ephem"}},
		{nil, true, []string{"devmac", "devnix", "ephem", "web1"}},
	} {
		got, err := sampleInventory().Select(tc.sel, tc.all)
		if tc.want == nil {
			if err == nil {
				t.Errorf("Select(%v) = %v, want an error", tc.sel, names(got))
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("Select(%v, %v) = %v, %v; want %v", tc.sel, tc.all, names(got), err, tc.want)
		}
	}
}

func TestSelectErrorsNameWhatExists(t *testing.T) {
	for _, tc := range []struct {
		sel  []string
		all  bool
		want string
	}{
		{[]string{"devnx"}, false, `no machine in deploy.nix matches "devnx" (machines: devmac, devnix, ephem, web1)`},
		{[]string{"@db"}, false, "no machine in deploy.nix has tag @db (tags: @dev, @linux, @mac, @vm, @web)"},
		{[]string{"x*"}, false, `matches "x*"`},
		{[]string{"[a"}, false, "syntax error in pattern"},
		{nil, false, ErrNothingSelected.Error()},
		{[]string{","}, false, ErrNothingSelected.Error()},
		{[]string{"devnix"}, true, "cannot be combined"},
	} {
		_, err := sampleInventory().Select(tc.sel, tc.all)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Select(%q, %v) error = %v, want %q", tc.sel, tc.all, err, tc.want)
		}
	}
}
