// Package buildinfo reports the version of the running nixherd binary: the
// one stamped at link time when there is one, otherwise the module version or
// VCS revision Go recorded in the binary.
package buildinfo

import "runtime/debug"

// version is set with -ldflags "-X github.com/nixherd/nixherd/internal/buildinfo.version=v1.2.3".
var version string

// Version returns a human-readable version string, never empty: the
// stamped version (the flake's build stamps its commit), else the module
// version `go install …@v1.2.3` records, else the commit `go build` in a
// checkout records (devel-<12 hex>[-dirty]), else "devel".
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}
