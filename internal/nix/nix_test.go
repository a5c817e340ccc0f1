package nix

import (
	"context"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"nix (Nix) 2.8.0\n":                  {2, 8, 0},
		"nix (Nix) 2.24.10":                  {2, 24, 10},
		"nix (Determinate Nix 3.6.2) 2.29.0": {3, 6, 2},
		"nix (Nix) 2.19pre2023":              {2, 19, 0},
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseVersion("command not found"); err == nil {
		t.Error("ParseVersion accepted garbage")
	}
	v := Version{2, 19, 0}
	if !v.AtLeast(2, 19) || v.AtLeast(2, 20) || !v.AtLeast(1, 99) {
		t.Error("AtLeast is wrong")
	}
}

func TestDrvInstallableFollowsVersion(t *testing.T) {
	old := &Nix{Version: Version{2, 8, 0}}
	cur := &Nix{Version: Version{2, 24, 0}}
	if got := old.DrvInstallable("/nix/store/x.drv"); got != "/nix/store/x.drv" {
		t.Errorf("2.8: %s", got)
	}
	if got := cur.DrvInstallable("/nix/store/x.drv"); got != "/nix/store/x.drv^*" {
		t.Errorf("2.24: %s", got)
	}
}

func TestParsePathInfoBothShapes(t *testing.T) {
	array := `[{"path":"/nix/store/a-x","narSize":120,"references":["/nix/store/b-y"]},{"path":"/nix/store/b-y","narSize":8,"references":[]}]`
	object := `{"/nix/store/a-x":{"narSize":120,"references":["/nix/store/b-y"]},"/nix/store/b-y":{"narSize":8,"references":[]},"/nix/store/c-z":null}`
	for name, in := range map[string]string{"2.8 array": array, "2.19 map": object} {
		infos, err := ParsePathInfo([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if infos[0].Path != "/nix/store/a-x" || infos[0].NarSize != 120 || len(infos[0].References) != 1 || !infos[0].Valid {
			t.Errorf("%s: %+v", name, infos[0])
		}
		if infos[1].Path != "/nix/store/b-y" || infos[1].NarSize != 8 {
			t.Errorf("%s: %+v", name, infos[1])
		}
	}
	infos, _ := ParsePathInfo([]byte(object))
	if len(infos) != 3 || infos[2].Valid {
		t.Errorf("an invalid path in the map shape must read as invalid: %+v", infos)
	}
}

// TestBuildAndClosureOnRealNix builds two derivations in one nix build and
// reads the closure with path-info, on the nix installed here.
func TestBuildAndClosureOnRealNix(t *testing.T) {
	testenv.NixEnv(t)
	ctx := context.Background()
	n, err := Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var drvs map[string]string
	expr := `let
	  dep = derivation { name = "nixherd-nix-test-dep"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo dep > $out" ]; };
	  mk = n: derivation { name = "nixherd-nix-test-${n}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ${dep} ${n} > $out" ]; };
	in { a = (mk "a").drvPath; b = (mk "b").drvPath; }`
	if err := n.EvalJSON(ctx, expr, &drvs); err != nil {
		t.Fatal(err)
	}
	outs, err := n.BuildDrvs(ctx, []string{drvs["a"], drvs["b"]})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[drvs["a"]] == "" || outs[drvs["b"]] == outs[drvs["a"]] {
		t.Fatalf("outs = %v", outs)
	}
	closure, err := n.Closure(ctx, []string{outs[drvs["a"]]})
	if err != nil {
		t.Fatal(err)
	}
	if len(closure) != 2 {
		t.Fatalf("closure of a = %+v, want a and its dependency", closure)
	}
}

func TestJSONLogReportsCopiesAndKeepsMessages(t *testing.T) {
	var copied []string
	l := &jsonLog{onCopy: func(p string) { copied = append(copied, p) }}
	in := `@nix {"action":"start","id":1,"level":3,"text":"copying 1 paths","type":103}
@nix {"action":"start","fields":["/nix/store/aaa-x","local","ssh://h"],"id":2,"level":3,"text":"copying path","type":100}
ssh: connect to host h port 22: Connection refused
@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m cannot connect to '\u001b[35;1mh\u001b[0m'"}`
	// Written in odd pieces, as a pipe delivers it.
	for i := 0; i < len(in); i += 7 {
		l.Write([]byte(in[i:min(i+7, len(in))]))
	}
	if len(copied) != 1 || copied[0] != "/nix/store/aaa-x" {
		t.Errorf("copied = %v", copied)
	}
	if got := l.String(); got != "ssh: connect to host h port 22: Connection refused\nerror: cannot connect to 'h'\n" {
		t.Errorf("text = %q", got)
	}
}
