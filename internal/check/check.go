// Package check enforces the fleet's rules on a statically read fleet
// (internal/fleet): the seed's conventions (program modules never import
// machine configs, unique service indices) and the mistakes people make
// (an input changed in flake.nix but not in flake.lock, a secret listed but
// never encrypted). Every finding points at a file, line and column.
package check

import (
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// Rule is one invariant of a fleet.
type Rule struct {
	// ID names the rule in findings and in --json output.
	ID string
	// Doc says what the rule requires, for the README and --help.
	Doc   string
	check func(*fleet.Fleet, Env) []Finding
}

// Rules are every rule check applies, in the order they run.
var Rules = []Rule{
	{"syntax", "every .nix file parses and uses only variables in scope (what nix-instantiate --parse accepts)", fleetOnly(checkSyntax)},
	{"import-missing", "every path in imports, import and callPackage exists", fleetOnly(checkImportsExist)},
	{"program-imports-machine", "program modules never import a machine configuration, directly or through other files", fleetOnly(checkProgramImports)},
	{"state-version", "every machine sets system.stateVersion (home.stateVersion for home-manager)", fleetOnly(checkStateVersion)},
	{"system-platform", "darwin machines have a darwin system and NixOS machines a linux one", fleetOnly(checkSystemPlatform)},
	{"flake-lock", "every input of flake.nix is in flake.lock, locked from the URL flake.nix names", fleetOnly(checkLock)},
	{"service", "service indices and host ports are unique, 10 + index stays within 254, every service has its flake input", fleetOnly(checkServices)},
	{"secrets", "secrets.nix and secrets/ agree, every secret file is age-encrypted to exactly its publicKeys, every publicKeys entry is an SSH or age public key", fleetOnly(checkSecrets)},
	{"deploy", "every machine deploy.nix deploys is defined by the flake, with the same platform", fleetOnly(checkDeploy)},
	{"ssh-options", "deploy.nix's sshOptions do not weaken host key checking, run programs on the deploying machine or hand hosts its agent, credentials or network", fleetOnly(checkSSHOptions)},
	{"nix-version", "relative path: inputs need Nix 2.26 or later (a warning when the local nix is older)", checkLocalNix},
	{"static", "what nixherd could not read without evaluating (a warning)", fleetOnly(checkNotes)},
}

// Fleet runs every rule on f, those about the local machine with what env
// knows of it. Finding files are relative to the fleet's root. A file that
// does not parse is reported alone: the other rules would see the fleet
// without it, and their findings would be follow-on errors of the one
// syntax error, listed before their cause.
func Fleet(f *fleet.Fleet, env Env) *Report {
	r := &Report{}
	rules := Rules
	if unparsed(f) {
		rules = Rules[:1] // syntax
	}
	for _, rule := range rules {
		for _, fd := range rule.check(f, env) {
			if fd.Rule == "" {
				fd.Rule = rule.ID
			}
			r.Add(fd)
		}
	}
	r.Sort()
	return r
}

// unparsed reports whether some file of f has a syntax error.
func unparsed(f *fleet.Fleet) bool {
	for _, file := range f.Files {
		for _, p := range file.Problems {
			if p.Kind == "syntax" {
				return true
			}
		}
	}
	return false
}

// fleetOnly makes a rule about the fleet alone, which needs no Env.
func fleetOnly(rule func(*fleet.Fleet) []Finding) func(*fleet.Fleet, Env) []Finding {
	return func(f *fleet.Fleet, _ Env) []Finding { return rule(f) }
}

func at(p nixlang.Position, sev Severity, msg string) Finding {
	return Finding{File: p.File, Line: p.Line, Col: p.Col, Severity: sev, Message: msg}
}

func checkNotes(f *fleet.Fleet) []Finding {
	var out []Finding
	for _, n := range f.Notes {
		out = append(out, at(n.Pos, Warning, n.Message))
	}
	return out
}
