package services

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// MinPort is the lowest port a service may be given: the ones below are
// privileged and belong to the host's own services.
const MinPort = 1024

// UnknownSecretError is a secret for a service that secrets.nix does not
// list (or a fleet without secrets.nix): it must be declared, with the keys
// that may read it, before it can be created and mounted.
type UnknownSecretError struct {
	Secret string
	// Rules is the secrets.nix that lacks it ("" when the fleet has none);
	// Listed are the secrets it lists.
	Rules  string
	Listed []string
}

func (e *UnknownSecretError) Error() string {
	if e.Rules == "" {
		return fmt.Sprintf("secret %s: the fleet has no secrets/secrets.nix to declare it in", e.Secret)
	}
	return fmt.Sprintf("secret %s: %s does not list %s.age (it lists: %s)", e.Secret, e.Rules, e.Secret, strings.Join(e.Listed, ", "))
}

// MaxNameLength is the longest container name: with privateNetwork the
// host side of the container's veth is "ve-NAME", and older kernels limit
// interface names to 15 bytes.
const MaxNameLength = 11

// Spec is a service to add.
type Spec struct {
	Name string
	// FlakeURL is the service flake's reference ("git+ssh://…", "github:…",
	// "path:./service-flakes/x"); the flake must export nixosModules.default.
	FlakeURL string
	// Port is the port the service listens on, forwarded from the host.
	Port int
	// Index gives the container address 192.168.100.(10 + Index); a
	// negative Index means the lowest one no service uses.
	Index int
	// Secrets are agenix secrets (names in secrets.nix without .age) to
	// mount read-only at /run/secrets/NAME, with NAME_FILE pointing there.
	Secrets     []string
	Environment []EnvVar
}

// EnvVar is one --env KEY=VALUE.
type EnvVar struct{ Key, Value string }

// ParseEnv reads KEY=VALUE.
func ParseEnv(s string) (EnvVar, error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return EnvVar{}, fmt.Errorf("%q: want KEY=VALUE", s)
	}
	if !validEnvKey(key) {
		return EnvVar{}, fmt.Errorf("%q: %q is not an environment variable name (letters, digits and _, not starting with a digit)", s, key)
	}
	return EnvVar{Key: key, Value: value}, nil
}

func validEnvKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range []byte(k) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SecretVariable is the variable mkService sets to a secret's path inside
// the container: openai-api-key → OPENAI_API_KEY_FILE.
func SecretVariable(secret string) string {
	return strings.ToUpper(strings.ReplaceAll(secret, "-", "_")) + "_FILE"
}

// SecretPath is where mkService mounts a secret in the container.
func SecretPath(secret string) string { return "/run/secrets/" + secret }

// nixKeywords cannot be variable names, which an input name must be to be
// passed through the outputs function's arguments.
var nixKeywords = map[string]bool{
	"if": true, "then": true, "else": true, "assert": true, "with": true,
	"let": true, "in": true, "rec": true, "inherit": true, "or": true,
}

// CheckName says why name cannot be a service: the service name is also
// the NixOS container's name and the flake input's.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the service name is empty")
	case strings.Contains(name, "_"):
		return fmt.Errorf("%q is not a valid container name: NixOS container names cannot contain _ (use -)", name)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%q is not a valid container name: %d characters, at most %d (with privateNetwork the host interface ve-%s must fit in 15 bytes on older kernels)", name, len(name), MaxNameLength, name)
	case !(name[0] >= 'a' && name[0] <= 'z'):
		return fmt.Errorf("%q is not a valid container name: it must start with a lowercase letter", name)
	case nixKeywords[name] || name == "self":
		return fmt.Errorf("%q cannot be a service name: it is reserved in Nix flakes", name)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q is not a valid container name: only lowercase letters, digits and - are allowed", name)
		}
	}
	return nil
}

// FileChange is the new content of one file.
type FileChange struct {
	// Path is relative to the fleet's root.
	Path     string
	Old, New []byte
}

// Change is an edit of the fleet, computed but not yet written.
type Change struct {
	Root  string
	Files []FileChange
	// Service is what was added or removed, with the index picked.
	Service Spec
	// Input is the flake input added or removed ("" when remove kept it
	// because flake.nix still uses it elsewhere); KeptInput says why not.
	Input     string
	KeptInput string
	// Warnings are what the edit does not refuse but the user should know:
	// the port is used on a machine that will run the service.
	Warnings []string
}

// fleetFiles are the two files a service edit touches, read and parsed.
type fleetFiles struct {
	root         string
	fleet        *fleet.Fleet
	flake        *nixlang.File
	flakeSrc     []byte
	services     *nixlang.File
	servicesPath string
	servicesSrc  []byte
}

func (ff *fleetFiles) shown(rel string) string {
	return filepath.Join(ff.root, filepath.FromSlash(rel))
}

// at prints a position of the fleet model as a path the user can open.
func at(root string, p nixlang.Position) string {
	return fmt.Sprintf("%s:%d:%d", filepath.Join(root, filepath.FromSlash(p.File)), p.Line, p.Col)
}

// load reads the fleet and parses its two service files, refusing a fleet
// where either does not parse.
func load(root string) (*fleetFiles, error) {
	f, err := fleet.Read(root)
	if err != nil {
		return nil, err
	}
	ff := &fleetFiles{root: root, fleet: f, servicesPath: ServicesFile}
	if len(f.Services) > 0 {
		ff.servicesPath = f.Services[0].Pos.File
	}
	ff.flakeSrc, err = os.ReadFile(ff.shown(FlakeFile))
	if err != nil {
		return nil, err
	}
	if ff.flake, err = nixlang.Parse(ff.shown(FlakeFile), ff.flakeSrc); err != nil {
		return nil, err
	}
	ff.servicesSrc, err = os.ReadFile(ff.shown(ff.servicesPath))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%s does not exist: the fleet has no services file of the mkService pattern (see nixherd init's %s)", ff.shown(ff.servicesPath), ServicesFile)
	}
	if err != nil {
		return nil, err
	}
	if ff.services, err = nixlang.Parse(ff.shown(ff.servicesPath), ff.servicesSrc); err != nil {
		return nil, err
	}
	return ff, nil
}

// Add computes the edit that adds the service spec to the fleet in root.
// It refuses, changing nothing, whatever would give a fleet that nixherd
// check rejects.
func Add(root string, spec Spec) (*Change, error) {
	if err := CheckName(spec.Name); err != nil {
		return nil, err
	}
	if strings.TrimSpace(spec.FlakeURL) == "" {
		return nil, fmt.Errorf("the service flake's URL is empty: give one such as git+ssh://git@github.com/you/%s.git", spec.Name)
	}
	if _, err := flakelock.ParseRef(spec.FlakeURL); err != nil {
		return nil, fmt.Errorf("the service flake's URL %q is not a flake reference: %w", spec.FlakeURL, err)
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return nil, fmt.Errorf("port %d is not a TCP port (1..65535)", spec.Port)
	}
	if spec.Port < MinPort {
		return nil, fmt.Errorf("port %d is below %d: ports under %d belong to the host's own services (ssh on 22, a web server on 80 and 443) and need privileges in the container; give the service a port from %d up", spec.Port, MinPort, MinPort, MinPort)
	}
	if spec.Index > MaxIndex {
		return nil, fmt.Errorf("index %d gives 192.168.100.%d: 10 + index must be at most %d (index 0..%d)", spec.Index, firstOctet+spec.Index, lastOctet, MaxIndex)
	}
	if err := checkEnvironment(spec); err != nil {
		return nil, err
	}

	ff, err := load(root)
	if err != nil {
		return nil, err
	}
	f := ff.fleet
	if err := checkUnused(ff, spec); err != nil {
		return nil, err
	}
	if spec.Index, err = pickIndex(root, f, spec); err != nil {
		return nil, err
	}
	for _, s := range f.Services {
		if s.Port == spec.Port {
			return nil, fmt.Errorf("port %d is already used by service %s (%s)", spec.Port, s.Name, at(root, s.PortPos))
		}
	}
	if err := checkSecrets(f, spec.Secrets); err != nil {
		return nil, err
	}

	newFlake, err := addToFlake(ff, spec)
	if err != nil {
		return nil, err
	}
	newServices, err := addToServices(ff, spec)
	if err != nil {
		return nil, err
	}
	return &Change{
		Root:     root,
		Service:  spec,
		Input:    spec.Name,
		Warnings: portWarnings(ff, spec.Port),
		Files: []FileChange{
			{Path: FlakeFile, Old: ff.flakeSrc, New: []byte(newFlake.Src)},
			{Path: ff.servicesPath, Old: ff.servicesSrc, New: []byte(newServices.Src)},
		},
	}, nil
}

func checkEnvironment(spec Spec) error {
	reserved := map[string]string{"PORT": "mkService sets PORT to the service's port"}
	for _, s := range spec.Secrets {
		reserved[SecretVariable(s)] = fmt.Sprintf("mkService sets %s to the path of secret %s", SecretVariable(s), s)
	}
	seen := map[string]bool{}
	for _, e := range spec.Environment {
		if !validEnvKey(e.Key) {
			return fmt.Errorf("environment %s=…: %q is not an environment variable name", e.Key, e.Key)
		}
		if why, ok := reserved[e.Key]; ok {
			return fmt.Errorf("environment %s=…: %s", e.Key, why)
		}
		if seen[e.Key] {
			return fmt.Errorf("environment variable %s is given twice", e.Key)
		}
		seen[e.Key] = true
	}
	secrets := map[string]bool{}
	for _, s := range spec.Secrets {
		if secrets[s] {
			return fmt.Errorf("secret %s is given twice", s)
		}
		secrets[s] = true
	}
	return nil
}

// checkUnused refuses a name any of the four places already uses.
func checkUnused(ff *fleetFiles, spec Spec) error {
	f, name, root := ff.fleet, spec.Name, ff.root
	for _, s := range f.Services {
		if s.Name == name {
			return fmt.Errorf("service %s already exists (%s)", name, at(root, s.Pos))
		}
	}
	if sf, ok := f.ServiceFlakes[name]; ok {
		return fmt.Errorf("serviceFlakes already has an entry %s (%s)", name, at(root, sf.Pos))
	}
	if in := f.Input(name); in != nil {
		return fmt.Errorf("flake.nix already has an input named %s (%s); the service's input gets the service's name", name, at(root, in.Pos))
	}
	for _, c := range mkServiceCalls(ff.services) {
		if c.name == name {
			return fmt.Errorf("%s: an mkService %q call already exists", ff.shown(ff.servicesPath), name)
		}
	}
	return nil
}

// pickIndex returns spec's index, or the lowest one no service uses.
func pickIndex(root string, f *fleet.Fleet, spec Spec) (int, error) {
	used := map[int]*fleet.Service{}
	for _, s := range f.Services {
		if !s.HasIndex || !s.HasPort {
			return 0, fmt.Errorf("service %s's port or index is not a plain number (%s); cannot tell which ones are free", s.Name, at(root, s.Pos))
		}
		used[s.Index] = s
	}
	if spec.Index >= 0 {
		if s, ok := used[spec.Index]; ok {
			return 0, fmt.Errorf("index %d (192.168.100.%d) is already used by service %s (%s)", spec.Index, firstOctet+spec.Index, s.Name, at(root, s.IndexPos))
		}
		return spec.Index, nil
	}
	for i := 0; i <= MaxIndex; i++ {
		if used[i] == nil {
			return i, nil
		}
	}
	return 0, fmt.Errorf("every index 0..%d is used: 192.168.100.0/24 has no free container address", MaxIndex)
}

func checkSecrets(f *fleet.Fleet, secrets []string) error {
	for _, s := range secrets {
		if f.SecretsFile == "" {
			return &UnknownSecretError{Secret: s}
		}
		listed := false
		var names []string
		for _, sec := range f.Secrets {
			n := strings.TrimSuffix(sec.Name, ".age")
			names = append(names, n)
			listed = listed || sec.Name == s+".age"
		}
		if !listed {
			return &UnknownSecretError{Secret: s, Rules: filepath.Join(f.Root, f.SecretsFile), Listed: names}
		}
	}
	return nil
}

// addToFlake adds the input and the serviceFlakes entries to flake.nix.
func addToFlake(ff *fleetFiles, spec Spec) (*nixlang.File, error) {
	file := ff.flake
	top, err := topSet(file)
	if err != nil {
		return nil, err
	}
	if file, err = addInput(file, top, spec.Name, spec.FlakeURL); err != nil {
		return nil, fmt.Errorf("adding input %s to flake.nix: %w", spec.Name, err)
	}
	if len(serviceFlakeSets(file)) == 0 {
		return nil, fmt.Errorf("%s has no `serviceFlakes = { … };` set: pass the service flakes to the NixOS machines with { _module.args.serviceFlakes = { }; } in their modules", ff.shown(FlakeFile))
	}
	ref, file, err := inputReference(file, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ff.shown(FlakeFile), err)
	}
	for i := range len(serviceFlakeSets(file)) {
		set := serviceFlakeSets(file)[i]
		if file, err = file.SetAttr(set, []string{spec.Name}, ref); err != nil {
			return nil, fmt.Errorf("adding %s to serviceFlakes: %w", spec.Name, err)
		}
	}
	if err := checkReferences(file, spec.Name); err != nil {
		return nil, err
	}
	return file, nil
}

// checkReferences makes sure every new serviceFlakes entry reaches the
// input through the outputs function's arguments, and not a let binding or
// function argument of the same name closer to it (a service called
// "machine" would otherwise silently get nixosMachine's argument).
func checkReferences(file *nixlang.File, name string) error {
	top, err := topSet(file)
	if err != nil {
		return err
	}
	l := outputsLambda(top)
	for _, set := range serviceFlakeSets(file) {
		a := nixlang.Lookup(set, name)
		if a == nil || a.Value == nil {
			continue
		}
		x := nixlang.Unparen(a.Value)
		if sel, ok := x.(*nixlang.Select); ok {
			x = sel.X
		}
		v, ok := x.(*nixlang.Var)
		if !ok {
			continue
		}
		def, _ := file.Resolve(v)
		switch d := def.(type) {
		case *nixlang.Lambda:
			if d == l {
				continue
			}
		case *nixlang.Formal:
			if l != nil && l.Formals != nil && slices.Contains(l.Formals.Items, d) {
				continue
			}
		}
		if def != nil {
			return fmt.Errorf("%s:%s: %s is already bound here, so serviceFlakes.%s would not reach input %s; choose another service name", file.Name, def.Pos(), name, name, name)
		}
		return fmt.Errorf("%s:%s: serviceFlakes.%s would not reach input %s through the outputs function's arguments; choose another service name", file.Name, v.Pos(), name, name)
	}
	return nil
}

// addInput adds `NAME.url = "URL";` to the inputs set, or, when flake.nix
// writes its inputs as dotted top-level bindings (inputs.x.url = …;),
// `inputs.NAME.url = "URL";` after the last of them.
func addInput(file *nixlang.File, top *nixlang.AttrSet, name, url string) (*nixlang.File, error) {
	var lastDotted *nixlang.Attr
	for _, b := range top.Bindings {
		a, ok := b.(*nixlang.Attr)
		if !ok {
			continue
		}
		names, ok := a.Path.Strings()
		if !ok || names[0] != "inputs" {
			continue
		}
		if len(names) == 1 {
			lastDotted = nil // an inputs = { … }; set: the editor adds there
			break
		}
		lastDotted = a
	}
	if lastDotted == nil {
		return file.SetAttr(top, []string{"inputs", name, "url"}, nixlang.QuoteString(url))
	}
	return file.InsertAfter(lastDotted, "inputs."+nixlang.FormatAttrName(name)+".url = "+nixlang.QuoteString(url)+";")
}

// inputReference returns how flake.nix's outputs refers to input name,
// written the way the existing serviceFlakes entries are: `name` through
// an argument of the outputs function (added to its formals when missing),
// or `inputs.name` through its @-argument.
func inputReference(file *nixlang.File, name string) (string, *nixlang.File, error) {
	top, err := topSet(file)
	if err != nil {
		return "", nil, err
	}
	l := outputsLambda(top)
	if l == nil {
		return "", nil, fmt.Errorf("outputs is not a function literal; cannot pass input %s to serviceFlakes", name)
	}
	viaArg := l.Arg != nil && (l.Formals == nil || selectsFromArg(file, l.Arg.Text))
	if viaArg {
		return l.Arg.Text + "." + nixlang.FormatAttrName(name), file, nil
	}
	if l.Formals == nil {
		return "", nil, fmt.Errorf("outputs has no arguments to reach input %s", name)
	}
	for _, fm := range l.Formals.Items {
		if fm.Name.Text == name {
			return name, file, nil
		}
	}
	nf, err := file.AddFormal(l.Formals, name)
	return name, nf, err
}

// selectsFromArg reports whether a serviceFlakes entry is written arg.NAME.
func selectsFromArg(file *nixlang.File, arg string) bool {
	for _, set := range serviceFlakeSets(file) {
		for _, b := range set.Bindings {
			if a, ok := b.(*nixlang.Attr); ok && selectHead(a.Value) == arg {
				return true
			}
		}
	}
	return false
}

// addToServices adds the services entry and the mkService import.
func addToServices(ff *fleetFiles, spec Spec) (*nixlang.File, error) {
	file := ff.services
	set := servicesSet(file)
	if set == nil {
		return nil, fmt.Errorf("%s has no `services = { NAME = { port = …; index = …; }; };` set of the mkService pattern", ff.shown(ff.servicesPath))
	}
	config, flake := "services", "serviceFlakes"
	if calls := mkServiceCalls(file); len(calls) > 0 {
		if c := calls[len(calls)-1]; c.config != "" && c.flake != "" {
			config, flake = c.config, c.flake
		}
	}
	var first nixlang.Node
	if len(set.Bindings) > 0 {
		first = set.Bindings[0]
	}
	entry := serviceEntry(spec, file.IndentUnitOf(set.Open, first))
	var err error
	if file, err = file.SetAttr(set, []string{spec.Name}, entry); err != nil {
		return nil, fmt.Errorf("adding %s to services: %w", spec.Name, err)
	}
	list := importsList(file)
	if list == nil {
		return nil, fmt.Errorf("%s has no imports list for the mkService calls", ff.shown(ff.servicesPath))
	}
	attr := nixlang.FormatAttrName(spec.Name)
	call := fmt.Sprintf("mkService %s %s.%s %s.%s", nixlang.QuoteString(spec.Name), config, attr, flake, attr)
	if file, err = file.AppendElem(list, call); err != nil {
		return nil, fmt.Errorf("adding the mkService import of %s: %w", spec.Name, err)
	}
	return file, nil
}

// serviceEntry writes the services entry the way the seed does, one
// attribute per line.
func serviceEntry(spec Spec, unit string) string {
	var b strings.Builder
	b.WriteString("{\n")
	fmt.Fprintf(&b, "%sport = %d;\n", unit, spec.Port)
	fmt.Fprintf(&b, "%sindex = %d;\n", unit, spec.Index)
	if len(spec.Secrets) > 0 {
		quoted := make([]string, len(spec.Secrets))
		for i, s := range spec.Secrets {
			quoted[i] = nixlang.QuoteString(s)
		}
		fmt.Fprintf(&b, "%ssecrets = [ %s ];\n", unit, strings.Join(quoted, " "))
	}
	if len(spec.Environment) > 0 {
		fmt.Fprintf(&b, "%senvironment = {\n", unit)
		for _, e := range spec.Environment {
			fmt.Fprintf(&b, "%s%s%s = %s;\n", unit, unit, nixlang.FormatAttrName(e.Key), nixlang.QuoteString(e.Value))
		}
		fmt.Fprintf(&b, "%s};\n", unit)
	}
	b.WriteString("}")
	return b.String()
}

// Summary says in one line what the service is.
func (s Spec) Summary() string {
	parts := []string{
		"flake " + s.FlakeURL,
		"index " + strconv.Itoa(s.Index) + " (" + Address(s.Index) + ")",
		"port " + strconv.Itoa(s.Port),
	}
	if len(s.Secrets) > 0 {
		parts = append(parts, "secrets "+strings.Join(s.Secrets, ", "))
	}
	if len(s.Environment) > 0 {
		keys := make([]string, len(s.Environment))
		for i, e := range s.Environment {
			keys[i] = e.Key
		}
		slices.Sort(keys)
		parts = append(parts, "environment "+strings.Join(keys, ", "))
	}
	return strings.Join(parts, ", ")
}
