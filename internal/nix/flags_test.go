package nix

import (
	"strings"
	"testing"
)

// The options reach nix in the form each command line takes: the new CLI
// gets all of them on what evaluates or builds and none elsewhere;
// nix-store and nix-instantiate know neither -L nor --offline.
func TestFlagsPerCommandLine(t *testing.T) {
	empty := ""
	f := Flags{PrintBuildLogs: true, ShowTrace: true, Verbose: 2, MaxJobs: "4", Builders: &empty, KeepGoing: true, Offline: true,
		Options: []Option{{"cores", "1"}, {"access-tokens", "github.com=x y"}}}
	all := "--print-build-logs --offline --show-trace -v -v --max-jobs 4 --builders  --keep-going --option cores 1 --option access-tokens github.com=x y"
	for _, sub := range []string{"eval", "build", "flake", "run"} {
		if got := strings.Join(f.Args(sub), " "); got != all {
			t.Errorf("nix %s gets %q, want %q", sub, got, all)
		}
	}
	for _, sub := range []string{"copy", "path-info", "store"} {
		if got := f.Args(sub); len(got) != 0 {
			t.Errorf("nix %s gets %q, want nothing", sub, got)
		}
	}
	legacy := "--option substitute false --show-trace -v -v --max-jobs 4 --builders  --keep-going --option cores 1 --option access-tokens github.com=x y"
	if got := strings.Join(f.LegacyArgs(), " "); got != legacy {
		t.Errorf("nix-store gets %q, want %q", got, legacy)
	}
	if got := (Flags{}).Args("build"); len(got) != 0 {
		t.Errorf("no options give %q", got)
	}
	if (Flags{}).Diagnostic() || !(Flags{Verbose: 1}).Diagnostic() || !(Flags{ShowTrace: true}).Diagnostic() || (Flags{KeepGoing: true}).Diagnostic() {
		t.Error("Diagnostic is wrong")
	}
	for s, ok := range map[string]bool{"auto": true, "0": true, "12": true, "-1": false, "many": false, "": false} {
		if ValidMaxJobs(s) != ok {
			t.Errorf("ValidMaxJobs(%q) != %v", s, ok)
		}
	}
}

// nix flake metadata --json as Nix 2.8 prints it (locked reference in
// "url") and as later releases do ("lockedUrl" too), with a ?dir= flake.
func TestParseFlakeMetadata(t *testing.T) {
	v28 := `{"lastModified":1796233447,"locked":{"dir":"sub","lastModified":1796233447,"narHash":"sha256-x","ref":"master","rev":"db5ac5969a2bc1907d4b12b9c4ea947a8121d793","revCount":2,"type":"git","url":"file:///tmp/f?dir=sub"},"original":{"dir":"sub","type":"git","url":"file:///tmp/f?dir=sub"},"originalUrl":"git+file:///tmp/f?dir=sub","path":"/nix/store/xcg5g6hwv49hm6fzvk9fyvlp2y2smxr3-source","resolvedUrl":"git+file:///tmp/f?dir=sub","url":"git+file:///tmp/f?dir=sub&ref=master&rev=db5ac5969a2bc1907d4b12b9c4ea947a8121d793"}`
	v224 := `{"description":"fleet","lastModified":1700000000,"locked":{"lastModified":1700000000,"narHash":"sha256-y","owner":"me","repo":"fleet","rev":"0123456789abcdef0123456789abcdef01234567","type":"github"},"lockedUrl":"github:me/fleet/0123456789abcdef0123456789abcdef01234567?narHash=sha256-y","original":{"owner":"me","repo":"fleet","type":"github"},"originalUrl":"github:me/fleet","path":"/nix/store/23qapccs6cfmwwrlq8kr41vz5vdmns3r-source","url":"github:me/fleet/0123456789abcdef0123456789abcdef01234567"}`
	s, err := ParseFlakeMetadata([]byte(v28))
	if err != nil || s.Root() != "/nix/store/xcg5g6hwv49hm6fzvk9fyvlp2y2smxr3-source/sub" || s.Type != "git" ||
		s.Locked != "git+file:///tmp/f?dir=sub&ref=master&rev=db5ac5969a2bc1907d4b12b9c4ea947a8121d793" {
		t.Errorf("2.8: %+v, %v", s, err)
	}
	s, err = ParseFlakeMetadata([]byte(v224))
	if err != nil || s.Root() != "/nix/store/23qapccs6cfmwwrlq8kr41vz5vdmns3r-source" || s.Type != "github" ||
		s.Locked != "github:me/fleet/0123456789abcdef0123456789abcdef01234567?narHash=sha256-y" {
		t.Errorf("2.24: %+v, %v", s, err)
	}
	if _, err := ParseFlakeMetadata([]byte(`{"path":"/nix/store/x"}`)); err == nil {
		t.Error("metadata without a locked reference accepted")
	}
}

// Nix's build errors, as 2.8 prints them (log quoted, or printed live with
// -L) and as later releases do: each failed derivation with its error line
// and the log lines quoted; a failed dependency's echo is left out.
func TestBuildFailures(t *testing.T) {
	v28 := `building '/nix/store/vnlxhny6l6ris6r5zp3abm8sqd5mpnnm-nixos-system-devnix.drv'...
building '/nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv'...
error: builder for '/nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv' failed with exit code 3;
       last 2 log lines:
       > building dep
       > boom: ephem dependency is broken
       For full logs, run 'nix log /nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv'.
error: 1 dependencies of derivation '/nix/store/6rx9b8c7amgxqdmwacyqdfrzm91fjri0-nixos-system-ephem.drv' failed to build
devnix line that follows
`
	live := "ephem-dep> boom\nerror: builder for '/nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv' failed with exit code 3\n"
	later := "\x1b[31;1merror:\x1b[0m Cannot build '/nix/store/6rx9b8c7amgxqdmwacyqdfrzm91fjri0-nixos-system-ephem.drv'.\n       Reason: \x1b[31;1m1 dependency failed\x1b[0m.\n       Output paths:\n         /nix/store/gqi23yzr6v5mmf84g2f1z8zzc9r8lbb8-nixos-system-ephem\n" +
		"\x1b[31;1merror:\x1b[0m Cannot build '/nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv'.\n       Reason: builder failed with exit code 3.\n       Output paths:\n         /nix/store/jnd2iiqhyd8qlvzn4hqzzzz1jila0rfc-ephem-dep\n       Last 2 log lines:\n       > building dep\n       > boom: ephem dependency is broken\n       For full logs, run:\n         nix log /nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv\n"
	const drv = "/nix/store/lvryddjycs0y19v354cqf5pr93r8b7xa-ephem-dep.drv"
	for name, tc := range map[string]struct {
		in     string
		reason string
		log    int
	}{
		"2.8":    {v28, "builder for '" + drv + "' failed with exit code 3: boom: ephem dependency is broken", 2},
		"2.8 -L": {live, "builder for '" + drv + "' failed with exit code 3", 0},
		"later":  {later, "Cannot build '" + drv + "': builder failed with exit code 3: boom: ephem dependency is broken", 2},
	} {
		fs := BuildFailures(tc.in)
		if len(fs) != 1 || fs[0].Drv != drv || fs[0].Reason() != tc.reason || len(fs[0].Log) != tc.log {
			t.Errorf("%s: %+v, want one failure of %s: %q", name, fs, drv, tc.reason)
		}
	}
	if fs := BuildFailures("error: 1 dependencies of derivation '/nix/store/x-y.drv' failed to build\n"); len(fs) != 0 {
		t.Errorf("a dependency's echo read as a failure: %+v", fs)
	}
}
