package hosts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testenv"
)

func load(t *testing.T, src string) (*Inventory, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(context.Background(), dir)
}

func TestLoadAppliesDefaults(t *testing.T) {
	inv, err := load(t, `{
  defaults = { buildOn = "target"; tags = [ "fleet" ]; sshOptions = [ "-o" "ConnectTimeout=5" ]; };
  machines = {
    b = { target = "root@10.0.0.2:2222"; tags = [ "@vm" ]; healthChecks = [ { http = "http://b/"; } ]; };
    a = { target = "local"; platform = "home"; configuration = "dylan@a"; };
  };
}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("names = %v", got)
	}
	a, b := inv.Machines[0], inv.Machines[1]
	if !a.Local() || a.BuildOn != BuildLocal || a.Configuration != "dylan@a" || a.Platform != platform.Home {
		t.Errorf("a = %+v", a)
	}
	if b.Address.User != "root" || b.Address.Host != "10.0.0.2" || b.Address.Port != 2222 {
		t.Errorf("b address = %+v", b.Address)
	}
	if b.BuildOn != BuildTarget || !reflect.DeepEqual(b.Tags, []string{"vm", "fleet"}) || b.Configuration != "b" {
		t.Errorf("b = %+v", b)
	}
	if len(b.HealthChecks) != 1 || b.HealthChecks[0].Status != 200 || b.HealthChecks[0].Kind() != "http" {
		t.Errorf("b checks = %+v", b.HealthChecks)
	}
	if !strings.HasSuffix(b.Pos.String(), "deploy.nix:4:5") {
		t.Errorf("b pos = %s", b.Pos)
	}
}

func TestLoadErrorsPointAtTheAttribute(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "{\n  machines = { a = { target = \"local\" }; };\n}", "deploy.nix:2:"},
		{"missing target", "{\n  machines = {\n    a = { tags = [ ]; };\n  };\n}", "deploy.nix:3:5: machines.a: missing target"},
		{"bad target", "{\n  machines.a.target = \"root@h:99999\";\n}", "deploy.nix:2:14: machines.a.target: \"root@h:99999\": port"},
		{"unknown field", "{\n  machines.a = {\n    target = \"local\";\n    tagz = [ ];\n  };\n}", `deploy.nix:4:5: machines.a: unknown attribute "tagz"`},
		{"bad buildOn", "{ machines.a = { target = \"local\";\n buildOn = \"remote\"; }; }", `deploy.nix:2:2: machines.a.buildOn is "remote"`},
		{"tags not strings", "{ machines.a = { target = \"local\";\n tags = [ 1 ]; }; }", "deploy.nix:2:2: machines.a.tags must be a list of strings"},
		{"two check kinds", "{ machines.a = { target = \"local\"; healthChecks = [\n { tcp = \"h:1\"; command = \"true\"; } ]; }; }", "deploy.nix:2:4: machines.a.healthChecks[0]: set exactly one of"},
		{"not a set", "[ ]", "deploy.nix:1:1: deploy file must be an attribute set"},
		{"unknown top", "{ machines = { }; hosts = { }; }", `deploy.nix:1:19: unknown attribute "hosts"`},
		{"target that is an ssh option", "{ machines.a = {\n target = \"-oProxyCommand=touch /tmp/x\"; }; }", `deploy.nix:2:2: machines.a.target: "-oProxyCommand=touch /tmp/x": a target must not begin with "-"`},
		{"host that is an ssh option", "{ machines.a = {\n target = \"root@-oProxyCommand=x\"; }; }", `deploy.nix:2:2: machines.a.target: "root@-oProxyCommand=x": a target must not begin with "-"`},
		{"ssh option with space", "{ machines.a = { target = \"h\";\n sshOptions = [ \"-o ProxyJump=x\" ]; }; }", "deploy.nix:2:2: machines.a.sshOptions"},
		{"pull not a set", "{ machines.a = { target = \"h\";\n pull = true; }; }", "deploy.nix:2:2: machines.a.pull must be an attribute set, not a boolean"},
		{"pull agent not a URL", "{ machines.a = { target = \"h\";\n pull.agent = \"h:9851\"; }; }", `deploy.nix:2:2: machines.a.pull.agent: "h:9851" is not the agent's address (http://host:port)`},
		{"pull unknown field", "{ machines.a = { target = \"h\";\n pull = { agnet = \"http://h:9851\"; }; }; }", `deploy.nix:2:2: machines.a.pull: unknown attribute "agnet"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExampleFleetDeployFile(t *testing.T) {
	testenv.NeedTool(t, "nix-instantiate")
	inv, err := Load(context.Background(), "../../examples/fleet/deploy.nix")
	if err != nil {
		t.Fatal(err)
	}
	sel, err := inv.Select([]string{"@vm"}, false)
	if err != nil || len(sel) != 2 || sel[0].Name != "devnix" || sel[1].Name != "ephem" {
		t.Fatalf("@vm = %v, %v", sel, err)
	}
	if m, _ := inv.Machine("devmac"); m.Platform != platform.Darwin || m.Address.User != "dylan" {
		t.Errorf("devmac = %+v", m)
	}
}

func TestMachineSSHOptionsOverrideTheDefaults(t *testing.T) {
	inv, err := load(t, `{
  defaults.sshOptions = [ "-F" "fleet.conf" "-o" "User=deploy" ];
  machines.a = { target = "h"; sshOptions = [ "-F" "a.conf" "-o" "User=a" ]; };
  machines.b = { target = "h"; };
}`)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := inv.Machine("a")
	b, _ := inv.Machine("b")
	if got := strings.Join(a.SSHOptions, " "); got != "-F a.conf -o User=a -o User=deploy" {
		t.Errorf("a: %s", got)
	}
	if got := strings.Join(b.SSHOptions, " "); got != "-F fleet.conf -o User=deploy" {
		t.Errorf("b: %s", got)
	}
}

// TestDeployFileIsReadWithoutNix: plain data needs no evaluator at all.
func TestDeployFileIsReadWithoutNix(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	inv, err := load(t, `let common = { tags = [ "vm" ]; }; in { machines.a = common // { target = "root@h"; }; }`)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := inv.Machine("a"); m.Target != "root@h" || len(m.Tags) != 1 {
		t.Fatalf("a = %+v", m)
	}
}

// TestComputedDeployFileCannotReachOutsideTheFleet: what the static reader
// cannot follow is evaluated by nix, restricted to the fleet's folder: no
// file outside it, no network, no environment.
func TestComputedDeployFileCannotReachOutsideTheFleet(t *testing.T) {
	testenv.NixEnv(t)
	secret := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(secret, []byte("PRIVATE KEY MATERIAL"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NIXHERD_TEST_SECRET", "PRIVATE ENV")
	for name, expr := range map[string]string{
		"readFile": `builtins.readFile ` + secret,
		"getEnv":   `builtins.getEnv "NIXHERD_TEST_SECRET"`,
		"fetchurl": `builtins.readFile (builtins.fetchurl "http://127.0.0.1:9/x")`,
	} {
		_, err := load(t, `{ machines.a = { target = "root@h"; tags = [ (`+expr+`) ]; }; }`)
		if err != nil && strings.Contains(err.Error(), "PRIVATE") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
		if name == "getEnv" {
			continue // restricted mode reads it as "", which the tag check lets through
		}
		if err == nil || !strings.Contains(err.Error(), "restricted mode") {
			t.Errorf("%s: error %v, want a refusal in restricted mode", name, err)
		}
	}
	inv, err := load(t, `{ machines.a = { target = "root@h"; configuration = builtins.getEnv "NIXHERD_TEST_SECRET"; }; }`)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := inv.Machine("a"); m.Configuration != "a" {
		t.Errorf("getEnv read %q", m.Configuration)
	}
}

// Options that weaken host key checking or run programs here are kept with
// where deploy.nix sets them, so the commands can refuse them.
func TestUnsafeSSHOptionsAreFoundWhereTheyAreSet(t *testing.T) {
	inv, err := load(t, `{
  defaults.sshOptions = [ "-o" "ConnectTimeout=5" "-o" "StrictHostKeyChecking=no" ];
  machines.a = {
    target = "h";
    sshOptions = [ "-oproxycommand=/tmp/x" ];
  };
  machines.b = { target = "h"; sshOptions = [ "-p" "2222" ]; };
}`)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := inv.Machine("a")
	b, _ := inv.Machine("b")
	var got []string
	for _, u := range a.UnsafeSSHOptions {
		got = append(got, u.String())
	}
	want := []string{
		"deploy.nix:5:5: machines.a.sshOptions: -oproxycommand=/tmp/x runs a program on this machine",
		"deploy.nix:2:12: defaults.sshOptions: -o StrictHostKeyChecking=no weakens host key checking",
	}
	if len(got) != len(want) {
		t.Fatalf("a: %q", got)
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("a: %q, want it to end in %q", got[i], want[i])
		}
	}
	if len(b.UnsafeSSHOptions) != 1 {
		t.Errorf("b: %v (the defaults' option applies to it too)", b.UnsafeSSHOptions)
	}
	err = RefuseUnsafeSSHOptions(inv.Machines)
	var ue *UnsafeSSHOptionsError
	if !errors.As(err, &ue) || len(ue.Options) != 2 || !strings.Contains(ue.Options[0].String(), "deploy.nix:2:12:") {
		t.Errorf("refusal: %v", err)
	}
	if err := RefuseUnsafeSSHOptions(nil); err != nil {
		t.Errorf("no machines: %v", err)
	}
}

// TestLoadPullMachines: pull = { agent = …; } marks a pulled machine and
// where its agent answers; machines without it are pushed.
func TestLoadPullMachines(t *testing.T) {
	inv, err := load(t, `{
  machines = {
    a = { target = "root@a"; pull = { agent = "http://a.lan:9851/"; }; };
    b = { target = "root@b"; pull = { }; };
    c = { target = "root@c"; };
  };
}`)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := inv.Machines[0], inv.Machines[1], inv.Machines[2]
	if a.Pull == nil || a.Pull.Agent != "http://a.lan:9851" || b.Pull == nil || b.Pull.Agent != "" || c.Pull != nil {
		t.Errorf("a %+v, b %+v, c %+v", a.Pull, b.Pull, c.Pull)
	}
}
