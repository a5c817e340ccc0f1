// Package fleet reads a fleet repository statically: the flake's inputs, the
// machines it defines, the files each machine uses (the import graph), the
// containerised services of the mkService pattern and the agenix secrets.
//
// Nothing is evaluated: a laptop may not have nixpkgs, and evaluating it takes
// seconds per machine. Instead the .nix files are parsed with nixlang and the
// common ways of writing these things are recognised (nixpkgs.lib.nixosSystem
// { system = …; modules = [ ./machines/x ]; }, darwinSystem,
// homeManagerConfiguration, a helper function defined in a let, values bound
// in a let). What cannot be seen without evaluation is not guessed: it becomes
// a Note, so `nixherd check` can say what it did not verify.
package fleet

import (
	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// Fleet is everything read from one fleet repository.
type Fleet struct {
	// Root is the directory of flake.nix.
	Root string
	// Files are the parsed .nix files of the repository, by relative path.
	Files map[string]*File
	// Inputs are the flake's inputs in the order flake.nix declares them.
	Inputs []*Input
	// Machines are the configurations the flake outputs.
	Machines []*Machine
	// MachinesUnknown is set when the flake computes some of its
	// configurations in ways the static reader cannot follow: Machines
	// then lists only those it could.
	MachinesUnknown bool
	// Imports are the module and file references between files.
	Imports []*Import
	// Services are the containerised services of the mkService pattern.
	Services []*Service
	// ServiceFlakes maps a service name to the input its flake comes from
	// (`_module.args.serviceFlakes = { NAME = INPUT; };`).
	ServiceFlakes map[string]ServiceFlake
	// SecretsFile is the agenix rules file ("secrets/secrets.nix"), empty
	// when the fleet has none.
	SecretsFile string
	Secrets     []*Secret
	// SecretFiles are the files under secrets/ other than the rules file.
	SecretFiles []string
	// SecretUses are the `age.secrets.NAME.file = PATH;` of the modules.
	SecretUses []*SecretUse
	// Lock is flake.lock; nil when there is none (LockErr says why when it
	// exists but cannot be read).
	Lock    *flakelock.Lock
	LockErr error
	// Notes say what could not be read statically.
	Notes []Note
}

// Input is one input of the flake.
type Input struct {
	Name string `json:"name"`
	// URL as written (`url = "github:…"`); empty for attribute form or follows.
	URL string `json:"url,omitempty"`
	// Attrs is the reference in attribute form: parsed from URL, or as
	// written with `type = "github"; owner = …;`.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Follows is the input this one follows ("nixpkgs", "a/b").
	Follows string `json:"follows,omitempty"`
	// Flake is false for `flake = false` inputs.
	Flake bool `json:"flake"`
	// InputFollows are the nested `X.inputs.Y.follows = "Z"` redirections.
	InputFollows []NestedFollows  `json:"inputFollows,omitempty"`
	Pos          nixlang.Position `json:"pos"`
	// URLPos is the position of the URL string (or of the name when there is none).
	URLPos nixlang.Position `json:"-"`
}

// NestedFollows is `X.inputs.Y.follows = "Z";`.
type NestedFollows struct {
	Input   string           `json:"input"`
	Follows string           `json:"follows"`
	Pos     nixlang.Position `json:"pos"`
}

// Platform is what kind of machine a configuration builds.
type Platform string

const (
	NixOS  Platform = "nixos"
	Darwin Platform = "darwin"
	Home   Platform = "home"
)

// Machine is one nixosConfigurations, darwinConfigurations or
// homeConfigurations entry.
type Machine struct {
	Name     string   `json:"name"`
	Platform Platform `json:"platform"`
	// System is "aarch64-linux" and the like; empty when it is not
	// statically known.
	System    string           `json:"system,omitempty"`
	SystemPos nixlang.Position `json:"-"`
	// Modules are the module files the flake lists for the machine.
	Modules []string `json:"modules"`
	// InlineModules are attribute sets written directly in the modules list.
	InlineModules []nixlang.Position `json:"-"`
	// Files are all files the machine uses, through the import graph.
	Files []string `json:"files"`
	// StateVersion is system.stateVersion (home.stateVersion for a
	// home-manager configuration) as written; Found says whether any of the
	// machine's modules sets it.
	StateVersion      string `json:"stateVersion,omitempty"`
	StateVersionFound bool   `json:"-"`
	// Pos is where the flake defines the machine.
	Pos nixlang.Position `json:"pos"`
	// MainFile is the machine's own configuration file (machines/NAME/default.nix),
	// the first module file when there is no such file; empty when none.
	MainFile string `json:"-"`
}

// ImportKind says how a file refers to another one.
type ImportKind string

const (
	ModuleImport ImportKind = "imports"     // an element of an `imports` list or of a machine's `modules`
	PlainImport  ImportKind = "import"      // `import ./x`
	CallPackage  ImportKind = "callPackage" // `callPackage ./x { }`
	FlakeModule  ImportKind = "modules"     // a machine's modules list in flake.nix
)

// Import is one reference from a file to another by a relative path.
type Import struct {
	From string     `json:"from"`
	Kind ImportKind `json:"kind"`
	// Path as written ("../../programs/nvim").
	Written string `json:"written"`
	// To is the referenced file relative to the root (a directory resolved
	// to its default.nix); empty when it is outside the fleet.
	To string `json:"to"`
	// Exists is false when the path does not exist.
	Exists bool             `json:"exists"`
	Pos    nixlang.Position `json:"pos"`
}

// Service is one entry of the mkService services attribute set.
type Service struct {
	Name        string            `json:"name"`
	Port        int               `json:"port"`
	Index       int               `json:"index"`
	Secrets     []string          `json:"secrets,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	// HasPort and HasIndex say whether the values were static integers.
	HasPort  bool `json:"-"`
	HasIndex bool `json:"-"`
	// Imported is true when an `mkService "NAME" …` call uses it.
	Imported bool             `json:"imported"`
	Pos      nixlang.Position `json:"pos"`
	PortPos  nixlang.Position `json:"-"`
	IndexPos nixlang.Position `json:"-"`
}

// ServiceFlake is one `NAME = INPUT;` entry of serviceFlakes.
type ServiceFlake struct {
	Input string // the input it names; empty when not a plain input reference
	Pos   nixlang.Position
}

// Secret is one entry of the agenix rules file.
type Secret struct {
	// Name is the rules key, a path relative to the rules file ("github-token.age").
	Name string `json:"name"`
	// File is the secret's file relative to the fleet root.
	File       string      `json:"file"`
	PublicKeys []PublicKey `json:"publicKeys"`
	// KeysKnown is false when publicKeys is not statically known.
	KeysKnown bool `json:"-"`
	// Armor is agenix's `armor = true;` (ASCII-armored file).
	Armor bool             `json:"armor,omitempty"`
	Pos   nixlang.Position `json:"pos"`
}

// PublicKey is one publicKeys entry and where it is written (the string
// literal, which may be in a let binding).
type PublicKey struct {
	Key string           `json:"key"`
	Pos nixlang.Position `json:"pos"`
}

// Note is something the static reader could not see, for check to report.
type Note struct {
	Pos     nixlang.Position
	Message string
}

// Machine returns the machine called name.
func (f *Fleet) Machine(name string) *Machine {
	for _, m := range f.Machines {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Input returns the input called name.
func (f *Fleet) Input(name string) *Input {
	for _, in := range f.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// File is one parsed .nix file.
type File struct {
	Path string
	Src  []byte
	// Problems are what the parser and the scope analysis rejected: the
	// things `nix-instantiate --parse` refuses.
	Problems []Problem
}

// Problem is a syntax or scope error in a file.
type Problem struct {
	Pos nixlang.Position
	// Kind is "syntax", "undefined-variable" or "duplicate".
	Kind    string
	Message string
}

// SecretUse is a module's `age.secrets.NAME.file = PATH;`: the encrypted
// file agenix decrypts at activation.
type SecretUse struct {
	Name string `json:"name"`
	// File is the path relative to the fleet root.
	File string           `json:"file"`
	Pos  nixlang.Position `json:"pos"`
}
