package testhost

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/atomicfile"
	"github.com/nixherd/nixherd/internal/platform"
)

// FixtureMachine is one machine of the fixture fleet. Its toplevel is a real
// derivation built by /bin/sh; changing any field changes its store path.
type FixtureMachine struct {
	// Name is the attribute name: the host name for nixos and darwin,
	// "user@host" for home.
	Name string
	// Platform is the kind of machine it imitates.
	Platform platform.Platform
	// Generation is free text that ends up in the toplevel (and in
	// nixos-version as "fixture-GENERATION"): change it to get a new
	// generation.
	Generation string
	// ActivateExit is the exit code of the activation (switch-to-configuration
	// switch|test, darwin's or home-manager's activate): 0 ok, 2 the activate
	// script failed, 4 a unit failed, 100 reboot required.
	ActivateExit int
	// ActivateScript is shell code run during activation, before the
	// generation becomes current (e.g. "sleep 5"), with FIXTURE_SELF (the
	// toplevel) and FIXTURE_ACTION set. If it fails the activation exits 2
	// without switching, as NixOS does when its activate script fails.
	// `kill $(cat /run/testhost/sshd.pid)` restarts the host's sshd (its
	// supervisor, or on a systemd host sshd.service's Restart=always,
	// starts it again); SSHDown keeps it down.
	ActivateScript string
	// SSHDown makes this generation stop the host's sshd and keep it down
	// (a configuration that closes the ssh port; `systemctl stop
	// sshd.service` on a systemd host). Activating a generation without it
	// brings sshd back.
	SSHDown bool
	// SSHRestart makes the activation restart sshd, as switch-to-configuration
	// does when sshd's unit changed (`systemctl restart sshd.service` on a
	// systemd host). Sessions survive it, as with NixOS's KillMode=process.
	SSHRestart bool
	// SSHPort moves sshd to that port on the host's address (0: the
	// host's own port); activating a generation whose port differs from
	// the running one restarts sshd.
	SSHPort int
	// ActivateUser gives a darwin toplevel the old activate-user script.
	ActivateUser bool
	// PayloadBytes puts a store path of that many random bytes in the
	// closure, so copies have something to carry. It changes with
	// Generation.
	PayloadBytes int
}

// FixtureOptions describes the fixture fleet.
type FixtureOptions struct {
	// System is the Nix system the toplevels are built for; default: this
	// machine's (x86_64-linux or aarch64-linux). Flakes cannot read
	// builtins.currentSystem, so it is written into the flake.
	System   string
	Machines []FixtureMachine
	// Files are extra files to write, relative to the fixture directory
	// (e.g. "deploy.nix").
	Files map[string]string
}

// FixtureStateDir is where, on a test host, fixture activations leave their
// record: activations.log (one line per activation), boot (the boot
// default) and home-USER (the active home-manager generation).
const FixtureStateDir = "/nix/var/nixherd-fixture"

// WriteFixture writes the fixture fleet into dir as a flake without inputs
// (so it needs no lock entries and no network). Writing again with other
// options replaces the machines.
func WriteFixture(dir string, opts FixtureOptions) error {
	if opts.System == "" {
		opts.System = CurrentSystem()
	}
	seen := map[string]bool{}
	for _, m := range opts.Machines {
		if m.Name == "" || strings.ContainsAny(m.Name, "\"\\$\n") {
			return fmt.Errorf("fixture machine name %q", m.Name)
		}
		switch m.Platform {
		case platform.NixOS, platform.Darwin:
		case platform.Home:
			if !strings.Contains(m.Name, "@") {
				return fmt.Errorf("home-manager fixture %q: name it user@host", m.Name)
			}
		default:
			return fmt.Errorf("fixture machine %s: unknown platform %q", m.Name, m.Platform)
		}
		key := string(m.Platform) + "/" + m.Name
		if seen[key] {
			return fmt.Errorf("fixture machine %s (%s) given twice", m.Name, m.Platform)
		}
		seen[key] = true
	}
	if err := os.MkdirAll(filepath.Join(dir, "fixture"), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"flake.nix":                          fmt.Sprintf(fixtureFlake, nixString(opts.System)),
		"flake.lock":                         fixtureLock,
		"fixture/default.nix":                fixtureLib,
		"fixture/common.sh":                  fixtureCommonSh,
		"fixture/switch-to-configuration.sh": fixtureSwitchSh,
		"fixture/darwin-activate.sh":         fixtureDarwinSh,
		"fixture/darwin-activate-user.sh":    fixtureDarwinUserSh,
		"fixture/home-activate.sh":           fixtureHomeSh,
		"machines.nix":                       machinesNix(opts.Machines),
	}
	for name, content := range opts.Files {
		if filepath.IsAbs(name) || strings.HasPrefix(filepath.Clean(name), "..") {
			return fmt.Errorf("fixture file %q must be relative to the fixture", name)
		}
		files[name] = content
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(p, []byte(files[n]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// CurrentSystem is the Nix system name of this machine.
func CurrentSystem() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return arch + "-" + runtime.GOOS
}

// Attr returns the flake attribute of the machine's toplevel, following
// the contracts nixos-rebuild, darwin-rebuild and home-manager use.
func (m FixtureMachine) Attr() string {
	switch m.Platform {
	case platform.Darwin:
		return fmt.Sprintf("darwinConfigurations.%s.system", nixString(m.Name))
	case platform.Home:
		return fmt.Sprintf("homeConfigurations.%s.activationPackage", nixString(m.Name))
	default:
		return fmt.Sprintf("nixosConfigurations.%s.config.system.build.toplevel", nixString(m.Name))
	}
}

func machinesNix(ms []FixtureMachine) string {
	var b strings.Builder
	b.WriteString("# Generated by nixherd's testhost: the fixture machines.\n[\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "  { name = %s; platform = %s; generation = %s; activateExit = %d; activateScript = %s; sshdDown = %t; sshdRestart = %t; sshdPort = %d; activateUser = %t; payloadBytes = %d; }\n",
			nixString(m.Name), nixString(string(m.Platform)), nixString(m.Generation), m.ActivateExit,
			nixString(m.ActivateScript), m.SSHDown, m.SSHRestart, m.SSHPort, m.ActivateUser, m.PayloadBytes)
	}
	b.WriteString("]\n")
	return b.String()
}

// nixString quotes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `${`, `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// Activation is one line of a host's fixture activation log.
type Activation struct {
	Time time.Time
	// Action is switch, boot, test or dry-activate (NixOS), activate or
	// activate-user (darwin), home-activate (home-manager).
	Action string
	// Path is the toplevel that was activated.
	Path string
	// Exit is the exit code the activation returned.
	Exit int
}

// Activations reads the host's fixture activation log, oldest first.
func (h *Host) Activations() ([]Activation, error) {
	f, err := os.Open(h.Path(FixtureStateDir + "/activations.log"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var acts []Activation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 {
			return nil, fmt.Errorf("%s: bad line %q", f.Name(), sc.Text())
		}
		sec, err1 := strconv.ParseInt(fs[0], 10, 64)
		code, err2 := strconv.Atoi(fs[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad line %q", f.Name(), sc.Text())
		}
		acts = append(acts, Activation{Time: time.Unix(sec, 0), Action: fs[1], Path: fs[2], Exit: code})
	}
	return acts, sc.Err()
}

// BootDefault is the toplevel the fixture made the host's boot default
// (by switch or boot), "" if none.
func (h *Host) BootDefault() string {
	l, _ := os.Readlink(h.Path(FixtureStateDir + "/boot"))
	return l
}

// HomeGeneration is the home-manager generation the fixture activated for
// user on the host, "" if none.
func (h *Host) HomeGeneration(user string) string {
	l, _ := os.Readlink(h.Path(FixtureStateDir + "/home-" + user))
	return l
}

const fixtureFlake = `{
  description = "nixherd test fleet: real derivations built with /bin/sh, no nixpkgs";

  # No inputs: evaluating and building it needs no network and no lock entries.
  outputs = { self }:
    import ./fixture {
      system = %s;
      machines = import ./machines.nix;
    };
}
`

// fixtureLock is what Nix writes for a flake without inputs.
const fixtureLock = `{
  "nodes": {
    "root": {}
  },
  "root": "root",
  "version": 7
}
`

const fixtureLib = `# The fixture fleet's machines as real derivations. builder = /bin/sh and
# PATH=/usr/bin:/bin: they build with the host's tools, without nixpkgs.
{ system, machines }:
let
  safe = builtins.replaceStrings [ "@" ] [ "-at-" ];

  mkDrv = name: env: script: derivation ({
    inherit name system;
    builder = "/bin/sh";
    args = [ "-ec" script ];
    PATH = "/usr/bin:/bin";
  } // env);

  # Shared by every machine and generation: copied once per host.
  base = mkDrv "nixherd-fixture-base" { } ''
    mkdir -p $out/bin
    printf '#!/bin/sh\necho nixherd fixture\n' > $out/bin/nixherd-fixture
    chmod +x $out/bin/nixherd-fixture
  '';

  payload = m: mkDrv "nixherd-fixture-payload-${safe m.name}" {
    inherit (m) generation;
    bytes = toString m.payloadBytes;
  } ''
    mkdir -p $out
    printf '%s\n' "$generation" > $out/generation
    if [ "$bytes" -gt 0 ]; then head -c "$bytes" /dev/urandom > $out/blob; fi
  '';

  # Writes $out/$1 from fixture/common.sh and the given script, with the
  # generation's settings in front, and makes it executable.
  writeScripts = ''
    script() {
      target=$out/$1; shift
      mkdir -p "$(dirname "$target")"
      {
        echo '#!/bin/sh'
        echo "self=$out"
        echo "exit_code=$exitCode"
        echo "sshd_down=$sshdDown"
        echo "sshd_restart=$sshdRestart"
        echo "sshd_port=$sshdPort"
        cat "$common"
        cat "$@"
      } > "$target"
      chmod +x "$target"
    }
    mkdir -p $out/fixture
    printf '%s\n' "$generation" > $out/fixture/generation
    printf '%s' "$hook" > $out/fixture/activate-hook
    ln -s $base $out/sw
    ln -s $payload $out/payload
  '';

  settings = m: {
    inherit (m) generation;
    inherit base;
    payload = payload m;
    hook = m.activateScript;
    exitCode = toString m.activateExit;
    sshdDown = if m.sshdDown then "1" else "0";
    sshdRestart = if m.sshdRestart then "1" else "0";
    sshdPort = toString m.sshdPort;
    common = ./common.sh;
  };

  nixos = m: mkDrv "nixos-system-${safe m.name}-fixture" (settings m // {
    stc = ./switch-to-configuration.sh;
  }) ''
    ${writeScripts}
    printf 'fixture-%s\n' "$generation" > $out/nixos-version
    script bin/switch-to-configuration "$stc"
  '';

  darwin = m: mkDrv "darwin-system-${safe m.name}-fixture" (settings m // {
    act = ./darwin-activate.sh;
    actUser = if m.activateUser then ./darwin-activate-user.sh else "";
  }) ''
    ${writeScripts}
    printf '%s' "$out" > $out/systemConfig
    printf 'fixture-%s\n' "$generation" > $out/darwin-version
    script activate "$act"
    if [ -n "$actUser" ]; then script activate-user "$actUser"; fi
  '';

  home = m: mkDrv "home-manager-generation-${safe m.name}" (settings m // {
    act = ./home-activate.sh;
  }) ''
    ${writeScripts}
    ln -s $base $out/home-path
    script activate "$act"
  '';

  of = platform: builtins.filter (m: m.platform == platform) machines;
  byName = platform: f: builtins.listToAttrs (map (m: { inherit (m) name; value = f m; }) (of platform));
in
{
  nixosConfigurations = byName "nixos" (m: {
    config.system.build.toplevel = nixos m;
    config.networking.hostName = m.name;
  });
  darwinConfigurations = byName "darwin" (m: rec {
    system = darwin m;
    config.system.build.toplevel = system;
  });
  homeConfigurations = byName "home" (m: {
    activationPackage = home m;
  });
}
`

// fixtureCommonSh is sourced (pasted) into every activation script after
// the generation's settings: self, exit_code, sshd_down.
const fixtureCommonSh = `set -u
state=/nix/var/nixherd-fixture

# Activating touches only the test host's private /run and /nix/var, never
# a real machine: refuse anywhere but on a nixherd test host.
if [ ! -e /run/testhost/ready ]; then
  echo "$0: this fixture configuration only activates on a nixherd test host" >&2
  exit 1
fi
mkdir -p "$state"

record() { # action exit-code
  echo "$(date +%s) $1 $self $2" >> "$state/activations.log"
}

link() { # name target: atomic symlink replacement
  ln -sfn "$2" "$1.tmp.$$" && mv -T "$1.tmp.$$" "$1"
}

hook() { # the generation's ActivateScript
  export FIXTURE_SELF=$self FIXTURE_ACTION=$1
  if [ -s "$self/fixture/activate-hook" ]; then
    /bin/sh -e "$self/fixture/activate-hook" || return 2
  fi
}

# apply_sshd: the generation's sshd settings, as NixOS's switch-to-configuration
# applies them: through systemd on a systemd host (sshd.service), otherwise
# through the host's supervisor. Fails when systemd fails to (re)start it.
apply_sshd() {
  listen=$(cat /run/testhost/sshd-listen.default)
  if [ "$sshd_port" != 0 ]; then listen="${listen%:*}:$sshd_port"; fi
  restart=$sshd_restart
  if [ "$(cat /run/testhost/sshd-listen.conf 2>/dev/null)" != "$listen" ]; then
    printf '%s\n' "$listen" > /run/testhost/sshd-listen.conf.tmp
    mv -f /run/testhost/sshd-listen.conf.tmp /run/testhost/sshd-listen.conf
    restart=1
  fi
  if [ -d /run/systemd/system ]; then
    if [ "$sshd_down" = 1 ]; then systemctl stop sshd.service
    elif [ "$restart" = 1 ]; then systemctl restart sshd.service
    else systemctl start sshd.service
    fi
  elif [ "$sshd_down" = 1 ]; then
    : > /run/testhost/sshd-disabled
    if [ -s /run/testhost/sshd.pid ]; then kill "$(cat /run/testhost/sshd.pid)" 2>/dev/null || true; fi
  else
    rm -f /run/testhost/sshd-disabled
    if [ "$restart" = 1 ] && [ -s /run/testhost/sshd.pid ]; then kill "$(cat /run/testhost/sshd.pid)" 2>/dev/null || true; fi
  fi
}

# unit_failed: what switch-to-configuration exits with when a unit failed to
# start or restart (4), unless the activation fails otherwise.
unit_failed() {
  echo "warning: the following units failed: sshd.service" >&2
  if [ "$exit_code" = 0 ]; then exit_code=4; fi
}

`

const fixtureSwitchSh = `action=${1:-}
case "$action" in
  switch|boot|test|dry-activate) ;;
  *) echo "Usage: $0 [switch|boot|test|dry-activate]" >&2; exit 1 ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "$0: must be run as root" >&2
  exit 1
fi
case "$action" in
  dry-activate)
    echo "would activate $self"
    record dry-activate 0
    exit 0 ;;
  boot)
    link "$state/boot" "$self"
    record boot 0
    exit 0 ;;
esac
if ! hook "$action"; then
  echo "$0: the activation script failed" >&2
  record "$action" 2
  exit 2
fi
link /run/current-system "$self"
apply_sshd || unit_failed
if [ "$action" = switch ]; then link "$state/boot" "$self"; fi
record "$action" "$exit_code"
if [ "$exit_code" = 4 ]; then echo "warning: the following units failed: nixherd-fixture.service" >&2; fi
exit "$exit_code"
`

const fixtureDarwinSh = `if [ "$(id -u)" != 0 ]; then
  echo "$0: must be run as root" >&2
  exit 1
fi
if ! hook activate; then
  echo "$0: activation failed" >&2
  record activate 2
  exit 2
fi
link /run/current-system "$self"
apply_sshd || unit_failed
record activate "$exit_code"
exit "$exit_code"
`

const fixtureDarwinUserSh = `record activate-user 0
`

const fixtureHomeSh = `user=$(id -un)
if ! hook home-activate; then
  echo "$0: activation failed" >&2
  record home-activate 2
  exit 2
fi
link "$state/home-$user" "$self"
record home-activate "$exit_code"
exit "$exit_code"
`
