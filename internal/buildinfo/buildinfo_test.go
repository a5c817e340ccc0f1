package buildinfo

import (
	"runtime/debug"
	"testing"
)

// The version comes from what Go recorded in the binary: the module version
// of `go install …@version`, else the commit of `go build` in a checkout.
func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0b2172fa0a42ec2807c143ef32b66e48e34a6f62"
	for _, tc := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v0.4.1"}}, "v0.4.1"},
		{debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261202181328-0b2172fa0a42"}}, "v0.0.0-20261202181328-0b2172fa0a42"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "devel-0b2172fa0a42"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "devel-0b2172fa0a42-dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	} {
		if got := fromBuildInfo(&tc.info); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.info.Main, got, tc.want)
		}
	}
}
