package hosts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/nixlang"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

// readExpr evaluates deploy.nix and, next to its value, the position of
// every attribute that a schema error may need to point at.
const readExpr = `{ file }:
let
  d = import file;
  pos = s: if builtins.isAttrs s then builtins.mapAttrs (n: _: builtins.unsafeGetAttrPos n s) s else null;
  checks = m: if builtins.isAttrs m && builtins.isList (m.healthChecks or null) then map pos m.healthChecks else null;
  ms = d.machines or null;
in
  if !(builtins.isAttrs d) then { type = builtins.typeOf d; } else {
    value = d;
    top = pos d;
    defaults = pos (d.defaults or null);
    defaultChecks = checks (d.defaults or null);
    machines = pos ms;
    fields = if builtins.isAttrs ms then builtins.mapAttrs (_: pos) ms else null;
    checks = if builtins.isAttrs ms then builtins.mapAttrs (_: checks) ms else null;
  }
`

type rawPos struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

type evaluated struct {
	Type          string                          `json:"type"`
	Value         map[string]json.RawMessage      `json:"value"`
	Top           map[string]*rawPos              `json:"top"`
	Defaults      map[string]*rawPos              `json:"defaults"`
	DefaultChecks []map[string]*rawPos            `json:"defaultChecks"`
	Machines      map[string]*rawPos              `json:"machines"`
	Fields        map[string]map[string]*rawPos   `json:"fields"`
	Checks        map[string][]map[string]*rawPos `json:"checks"`
}

// Load reads and checks the deploy.nix at path (a file, or a fleet directory
// holding one). It is read as plain data by nixherd's static reader (Read),
// which runs nothing and reads nothing outside the fleet; only a deploy.nix
// computed in ways the static reader cannot follow is evaluated with nix.
func Load(ctx context.Context, path string) (*Inventory, error) {
	inv, err := Read(path)
	var unknown *fleet.UnknownError
	if errors.As(err, &unknown) {
		return loadWithNix(ctx, path)
	}
	return inv, err
}

// Read reads and checks deploy.nix statically (fleet.ReadData): plain data,
// let bindings, //, ++, imports of other fleet files. A part it cannot know
// without evaluating is a *fleet.UnknownError (check reports it as a
// warning; Load hands the file to nix).
func Read(path string) (*Inventory, error) {
	path, abs, err := locate(path)
	if err != nil {
		return nil, err
	}
	v, err := fleet.ReadData(filepath.Dir(abs), filepath.Base(abs))
	if err != nil {
		var perr *nixlang.Error
		if errors.As(err, &perr) {
			return nil, &Error{Pos: nixlang.Position{File: path, Line: perr.Pos.Line, Col: perr.Pos.Col}, Msg: perr.Msg}
		}
		return nil, err
	}
	return decode(path, abs, fromData(v, filepath.Dir(abs)))
}

// locate finds the deploy file: path, or FileName in the directory path.
func locate(path string) (shown, abs string, err error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, FileName)
	}
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", "", fmt.Errorf("%s: no deploy file: declare where machines are deployed in %s (see README, \"deploy.nix\")", path, FileName)
	}
	return path, abs, nil
}

// fromData lays out statically read data the way readExpr's evaluation
// does: the value as JSON, and the positions of the attributes a schema
// error may point at. Positions are absolute file names (decode shows the
// deploy file as the caller named it).
func fromData(v *nixlang.Value, root string) *evaluated {
	if v.Kind != nixlang.AttrsValue {
		return &evaluated{Type: dataType(v)}
	}
	pos := func(p nixlang.Position) *rawPos {
		return &rawPos{File: filepath.Join(root, filepath.FromSlash(p.File)), Line: p.Line, Column: p.Col}
	}
	posOf := func(set *nixlang.Value) map[string]*rawPos {
		if set == nil || set.Kind != nixlang.AttrsValue {
			return nil
		}
		m := map[string]*rawPos{}
		for _, a := range set.Attrs {
			m[a.Name] = pos(a.Pos)
		}
		return m
	}
	checksOf := func(m *nixlang.Value) []map[string]*rawPos {
		hc := m.Get("healthChecks")
		if m.Kind != nixlang.AttrsValue || hc == nil || hc.Kind != nixlang.ListValue {
			return nil
		}
		var out []map[string]*rawPos
		for _, c := range hc.List {
			out = append(out, posOf(c))
		}
		return out
	}
	ev := &evaluated{Value: map[string]json.RawMessage{}, Top: posOf(v), Defaults: posOf(v.Get("defaults"))}
	for _, a := range v.Attrs {
		b, _ := json.Marshal(a.Value.Interface())
		ev.Value[a.Name] = b
	}
	if d := v.Get("defaults"); d != nil {
		ev.DefaultChecks = checksOf(d)
	}
	if ms := v.Get("machines"); ms != nil && ms.Kind == nixlang.AttrsValue {
		ev.Machines = posOf(ms)
		ev.Fields, ev.Checks = map[string]map[string]*rawPos{}, map[string][]map[string]*rawPos{}
		for _, a := range ms.Attrs {
			ev.Fields[a.Name] = posOf(a.Value)
			ev.Checks[a.Name] = checksOf(a.Value)
		}
	}
	return ev
}

// dataType names a value's type as builtins.typeOf does.
func dataType(v *nixlang.Value) string {
	switch v.Kind {
	case nixlang.NullValue:
		return "null"
	case nixlang.BoolValue:
		return "bool"
	case nixlang.IntValue:
		return "int"
	case nixlang.FloatValue:
		return "float"
	case nixlang.StringValue:
		return "string"
	case nixlang.PathValue:
		return "path"
	case nixlang.ListValue:
		return "list"
	}
	return "set"
}

// loadWithNix evaluates deploy.nix with nix-instantiate, for a deploy.nix
// the static reader cannot follow. The evaluation is restricted to the
// fleet's folder (nix.EvalData: no other file, no network, no environment
// variables, no commands), so a deploy.nix from a repository others push to
// cannot read the user's files.
func loadWithNix(ctx context.Context, path string) (*Inventory, error) {
	path, abs, err := locate(path)
	if err != nil {
		return nil, err
	}
	out, err := nix.EvalData(ctx, filepath.Dir(abs), "--expr", readExpr, "--argstr", "file", abs)
	if err != nil {
		var nerr *nix.Error
		if errors.As(err, &nerr) {
			return nil, nixError(path, abs, nerr.Stderr)
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var ev evaluated
	if err := json.Unmarshal(out, &ev); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return decode(path, abs, &ev)
}

var nixPosRE = regexp.MustCompile(`(?m)(?:at |^\s*at )(/[^:\s]+):(\d+):(\d+)`)

// nixError turns nix-instantiate's message into "file:line:col: message".
func nixError(path, abs, stderr string) error {
	msg := strings.TrimSpace(stderr)
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "warning:") || strings.HasPrefix(l, "…") || strings.HasPrefix(l, "(use '--show-trace'") {
			continue
		}
		lines = append(lines, strings.TrimPrefix(l, "error: "))
	}
	where := path
	if m := nixPosRE.FindStringSubmatch(msg); m != nil {
		file := m[1]
		if file == abs {
			file = path
		}
		where = fmt.Sprintf("%s:%s:%s", file, m[2], m[3])
	}
	text := ""
	if len(lines) > 0 {
		text = lines[0]
		text = nixPosRE.ReplaceAllString(text, "")
		text = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ","))
	}
	return fmt.Errorf("%s: %s", where, text)
}

// decoder reports schema errors at the position of the attribute at fault.
type decoder struct {
	file, abs string
}

func (d decoder) pos(p *rawPos) nixlang.Position {
	if p == nil {
		return nixlang.Position{File: d.file, Line: 1, Col: 1}
	}
	f := p.File
	if f == d.abs {
		f = d.file
	}
	return nixlang.Position{File: f, Line: p.Line, Col: p.Column}
}

func (d decoder) errorf(p *rawPos, format string, args ...any) error {
	return &Error{Pos: d.pos(p), Msg: fmt.Sprintf(format, args...)}
}

// Error is a mistake in deploy.nix, at the attribute at fault.
type Error struct {
	Pos nixlang.Position
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// machineFields and defaultFields list the attributes a machine and the
// defaults may set.
var machineFields = map[string]bool{"target": true, "tags": true, "buildOn": true, "sshOptions": true, "healthChecks": true, "platform": true, "configuration": true, "pull": true}
var defaultFields = map[string]bool{"target": false, "tags": true, "buildOn": true, "sshOptions": true, "healthChecks": true}

func decode(file, abs string, ev *evaluated) (*Inventory, error) {
	d := decoder{file: file, abs: abs}
	if ev.Type != "" {
		return nil, d.errorf(nil, "deploy file must be an attribute set { defaults = { ... }; machines = { ... }; }, not a %s", ev.Type)
	}
	for _, k := range inOrder(ev.Value, ev.Top) {
		if k != "machines" && k != "defaults" && k != "rollout" {
			return nil, d.errorf(ev.Top[k], "unknown attribute %q (deploy.nix has defaults, machines and rollout)", k)
		}
	}
	var def Machine
	if raw, ok := ev.Value["defaults"]; ok {
		fields, err := d.object(raw, ev.Top["defaults"], "defaults")
		if err != nil {
			return nil, err
		}
		if err := d.fields(&def, "defaults", fields, ev.Defaults, ev.DefaultChecks, defaultFields); err != nil {
			return nil, err
		}
	}
	inv := &Inventory{File: file}
	raw, ok := ev.Value["machines"]
	if !ok {
		return nil, d.errorf(nil, "no machines: add machines = { NAME = { target = \"user@host\"; }; };")
	}
	machines, err := d.object(raw, ev.Top["machines"], "machines")
	if err != nil {
		return nil, err
	}
	for _, name := range inOrder(machines, ev.Machines) {
		mraw := machines[name]
		mpos := ev.Machines[name]
		fields, err := d.object(mraw, mpos, "machines."+name)
		if err != nil {
			return nil, err
		}
		m := Machine{Name: name, Pos: d.pos(mpos), FieldPos: map[string]nixlang.Position{}}
		for k, p := range ev.Fields[name] {
			m.FieldPos[k] = d.pos(p)
		}
		if err := d.fields(&m, "machines."+name, fields, ev.Fields[name], ev.Checks[name], machineFields); err != nil {
			return nil, err
		}
		if _, ok := fields["target"]; !ok {
			return nil, d.errorf(mpos, "machines.%s: missing target (\"local\" or \"user@host[:port]\")", name)
		}
		m.Tags = append(append([]string{}, m.Tags...), def.Tags...)
		m.Tags = dedupe(m.Tags)
		m.SSHOptions = remote.MergeOptions(m.SSHOptions, def.SSHOptions)
		m.UnsafeSSHOptions = append(m.UnsafeSSHOptions, def.UnsafeSSHOptions...)
		m.HealthChecks = append(append([]HealthCheck{}, def.HealthChecks...), m.HealthChecks...)
		if m.BuildOn == "" {
			m.BuildOn = def.BuildOn
		}
		if m.BuildOn == "" {
			m.BuildOn = BuildLocal
		}
		if m.Configuration == "" {
			m.Configuration = name
		}
		if m.Local() && m.BuildOn == BuildTarget {
			m.BuildOn = BuildLocal // the target is this machine
		}
		inv.Machines = append(inv.Machines, m)
	}
	sort.Slice(inv.Machines, func(i, j int) bool { return inv.Machines[i].Name < inv.Machines[j].Name })
	if raw, ok := ev.Value["rollout"]; ok {
		r, err := d.rollout(raw, ev.Top["rollout"])
		if err != nil {
			return nil, err
		}
		inv.Rollout = r
		for i, w := range r.Waves {
			if _, err := inv.Select(w.Selectors, false); err != nil {
				return nil, d.errorf(ev.Top["rollout"], "rollout.waves[%d]: %v", i, err)
			}
		}
	}
	return inv, nil
}

// rollout reads deploy.nix's rollout:
//
//	rollout = {
//	  waves = [ { name = "canary"; machines = [ "@canary" ]; soak = "10m"; } { machines = [ "*" ]; } ];
//	  maxInFlight = 2;   # or "25%"
//	  deadline = "15m";
//	};
func (d decoder) rollout(raw json.RawMessage, p *rawPos) (*Rollout, error) {
	fields, err := d.object(raw, p, "rollout")
	if err != nil {
		return nil, err
	}
	r := &Rollout{Pos: d.pos(p)}
	for _, k := range inOrder(fields, nil) {
		v := fields[k]
		switch k {
		case "waves":
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil || len(list) == 0 {
				return nil, d.errorf(p, "rollout.waves must be a non-empty list of waves ({ machines = [ \"@canary\" ]; soak = \"10m\"; }), not %s", describe(v))
			}
			for i, wraw := range list {
				what := fmt.Sprintf("rollout.waves[%d]", i)
				wf, err := d.object(wraw, p, what)
				if err != nil {
					return nil, err
				}
				w := Wave{}
				for _, wk := range inOrder(wf, nil) {
					switch wk {
					case "name":
						err = d.str(&w.Name, wf[wk], p, what+".name")
					case "machines":
						err = d.strings(&w.Selectors, wf[wk], p, what+".machines")
					case "soak":
						w.Soak, err = d.duration(wf[wk], p, what+".soak")
					default:
						err = d.errorf(p, "%s: unknown attribute %q (known: machines, name, soak)", what, wk)
					}
					if err != nil {
						return nil, err
					}
				}
				if len(w.Selectors) == 0 {
					return nil, d.errorf(p, "%s: machines is missing or empty: name the wave's machines (names, globs, @tags)", what)
				}
				if w.Name == "" {
					w.Name = strings.Join(w.Selectors, ",")
				}
				r.Waves = append(r.Waves, w)
			}
		case "maxInFlight":
			var n float64
			var s string
			switch {
			case json.Unmarshal(v, &n) == nil && n == float64(int(n)) && n >= 1:
				r.MaxInFlight = int(n)
			case json.Unmarshal(v, &s) == nil && strings.HasSuffix(s, "%"):
				pct, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
				if err != nil || pct < 1 || pct > 100 {
					return nil, d.errorf(p, "rollout.maxInFlight %q: a percentage from 1%% to 100%%", s)
				}
				r.MaxInFlight, r.Percent = pct, true
			default:
				return nil, d.errorf(p, "rollout.maxInFlight must be a whole number of machines (at least 1) or a percentage like \"25%%\", not %s", describe(v))
			}
		case "deadline":
			if r.Deadline, err = d.duration(v, p, "rollout.deadline"); err != nil {
				return nil, err
			}
		default:
			return nil, d.errorf(p, "rollout: unknown attribute %q (known: deadline, maxInFlight, waves)", k)
		}
	}
	if len(r.Waves) == 0 {
		return nil, d.errorf(p, "rollout: no waves: add waves = [ { machines = [ \"@canary\" ]; } { machines = [ \"*\" ]; } ];")
	}
	return r, nil
}

// duration reads seconds (a number) or a duration string ("90s", "10m").
func (d decoder) duration(raw json.RawMessage, p *rawPos, what string) (time.Duration, error) {
	var n float64
	if json.Unmarshal(raw, &n) == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if dur, err := time.ParseDuration(s); err == nil && dur >= 0 {
			return dur, nil
		}
	}
	return 0, d.errorf(p, "%s must be seconds or a duration like \"10m\", not %s", what, describe(raw))
}

// inOrder lists the keys of m in source order where positions are known,
// so that of several mistakes the first in the file is reported.
func inOrder[T any](m map[string]T, pos map[string]*rawPos) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := pos[keys[i]], pos[keys[j]]
		switch {
		case a != nil && b != nil && (a.Line != b.Line || a.Column != b.Column):
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		case a != nil && b == nil:
			return true
		case a == nil && b != nil:
			return false
		}
		return keys[i] < keys[j]
	})
	return keys
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func (d decoder) object(raw json.RawMessage, p *rawPos, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, d.errorf(p, "%s must be an attribute set, not %s", what, describe(raw))
	}
	return m, nil
}

func describe(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return "null"
	case strings.HasPrefix(s, "["):
		return "a list"
	case strings.HasPrefix(s, "{"):
		return "an attribute set"
	case strings.HasPrefix(s, `"`):
		return "the string " + s
	case s == "true" || s == "false":
		return "a boolean"
	default:
		return "the number " + s
	}
}

func (d decoder) fields(m *Machine, what string, fields map[string]json.RawMessage, pos map[string]*rawPos, checkPos []map[string]*rawPos, allowed map[string]bool) error {
	for _, k := range inOrder(fields, pos) {
		raw, p := fields[k], pos[k]
		if !allowed[k] {
			return d.errorf(p, "%s: unknown attribute %q (known: %s)", what, k, known(allowed))
		}
		var err error
		switch k {
		case "target":
			err = d.target(m, raw, p, what)
		case "tags":
			err = d.strings(&m.Tags, raw, p, what+".tags")
			for i, t := range m.Tags {
				m.Tags[i] = strings.TrimPrefix(t, "@")
				if m.Tags[i] == "" || strings.ContainsAny(m.Tags[i], ", \t*?[") {
					return d.errorf(p, "%s.tags: %q is not a tag (no spaces, commas or glob characters)", what, t)
				}
			}
		case "sshOptions":
			err = d.strings(&m.SSHOptions, raw, p, what+".sshOptions")
			for _, o := range m.SSHOptions {
				if strings.ContainsAny(o, " \t\n") {
					return d.errorf(p, "%s.sshOptions: %q contains whitespace; write each argument as its own list element (\"-o\" \"Key=value\")", what, o)
				}
			}
			for _, u := range remote.UnsafeOptions(m.SSHOptions) {
				m.UnsafeSSHOptions = append(m.UnsafeSSHOptions, UnsafeSSHOption{UnsafeOption: u, Attr: what + ".sshOptions", Pos: d.pos(p)})
			}
		case "buildOn":
			err = d.enum(&m.BuildOn, raw, p, what+".buildOn", BuildLocal, BuildTarget)
		case "platform":
			var s string
			err = d.enum(&s, raw, p, what+".platform", string(platform.NixOS), string(platform.Darwin), string(platform.Home))
			m.Platform = platform.Platform(s)
		case "configuration":
			err = d.str(&m.Configuration, raw, p, what+".configuration")
		case "healthChecks":
			err = d.checks(m, raw, p, checkPos, what)
		case "pull":
			err = d.pull(m, raw, p, what+".pull")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func known(allowed map[string]bool) string {
	var ks []string
	for k, ok := range allowed {
		if ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func (d decoder) str(dst *string, raw json.RawMessage, p *rawPos, what string) error {
	if err := json.Unmarshal(raw, dst); err != nil || !strings.HasPrefix(strings.TrimSpace(string(raw)), `"`) {
		return d.errorf(p, "%s must be a string, not %s", what, describe(raw))
	}
	return nil
}

func (d decoder) strings(dst *[]string, raw json.RawMessage, p *rawPos, what string) error {
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return d.errorf(p, "%s must be a list of strings, not %s", what, describe(raw))
	}
	*dst = v
	return nil
}

func (d decoder) enum(dst *string, raw json.RawMessage, p *rawPos, what string, values ...string) error {
	if err := d.str(dst, raw, p, what); err != nil {
		return err
	}
	for _, v := range values {
		if *dst == v {
			return nil
		}
	}
	return d.errorf(p, "%s is %q; it must be one of %s", what, *dst, `"`+strings.Join(values, `", "`)+`"`)
}

func (d decoder) target(m *Machine, raw json.RawMessage, p *rawPos, what string) error {
	if err := d.str(&m.Target, raw, p, what+".target"); err != nil {
		return err
	}
	if m.Target == "local" {
		return nil
	}
	a, err := remote.ParseAddress(m.Target)
	if err != nil {
		return d.errorf(p, "%s.target: %v; write \"local\" or \"user@host[:port]\"", what, err)
	}
	m.Address = a
	return nil
}

func (d decoder) checks(m *Machine, raw json.RawMessage, p *rawPos, checkPos []map[string]*rawPos, what string) error {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return d.errorf(p, "%s.healthChecks must be a list, not %s", what, describe(raw))
	}
	for i, craw := range list {
		var cp map[string]*rawPos
		if i < len(checkPos) {
			cp = checkPos[i]
		}
		at := fmt.Sprintf("%s.healthChecks[%d]", what, i)
		fields, err := d.object(craw, p, at)
		if err != nil {
			return err
		}
		var hc HealthCheck
		kinds := 0
		for k, v := range fields {
			kp := cp[k]
			if kp == nil {
				kp = p
			}
			switch k {
			case "http":
				err = d.str(&hc.HTTP, v, kp, at+".http")
				if err == nil && !strings.HasPrefix(hc.HTTP, "http://") && !strings.HasPrefix(hc.HTTP, "https://") {
					err = d.errorf(kp, "%s.http: %q is not an http:// or https:// URL", at, hc.HTTP)
				}
				kinds++
			case "tcp":
				err = d.str(&hc.TCP, v, kp, at+".tcp")
				if err == nil && !strings.Contains(hc.TCP, ":") {
					err = d.errorf(kp, "%s.tcp: %q is not host:port", at, hc.TCP)
				}
				kinds++
			case "command":
				err = d.str(&hc.Command, v, kp, at+".command")
				kinds++
			case "status", "timeout":
				var n float64
				if e := json.Unmarshal(v, &n); e != nil || n != float64(int(n)) || n < 0 {
					err = d.errorf(kp, "%s.%s must be a whole number, not %s", at, k, describe(v))
				} else if k == "status" {
					hc.Status = int(n)
				} else {
					hc.Timeout = int(n)
				}
			default:
				err = d.errorf(kp, "%s: unknown attribute %q (a check is { http = URL; status = 200; }, { tcp = \"host:port\"; } or { command = \"...\"; }, with an optional timeout)", at, k)
			}
			if err != nil {
				return err
			}
		}
		anyPos := p
		for _, k := range []string{"http", "tcp", "command", "status", "timeout"} {
			if v := cp[k]; v != nil {
				anyPos = v
				break
			}
		}
		if kinds != 1 {
			return d.errorf(anyPos, "%s: set exactly one of http, tcp and command", at)
		}
		if hc.Status != 0 && hc.HTTP == "" {
			return d.errorf(cp["status"], "%s: status only applies to http checks", at)
		}
		if hc.HTTP != "" && hc.Status == 0 {
			hc.Status = 200
		}
		hc.Pos = d.pos(anyPos)
		m.HealthChecks = append(m.HealthChecks, hc)
	}
	return nil
}

// pull reads a pulled machine's pull = { agent = "http://host:port"; }.
func (d decoder) pull(m *Machine, raw json.RawMessage, p *rawPos, what string) error {
	fields, err := d.object(raw, p, what)
	if err != nil {
		return err
	}
	m.Pull = &Pull{}
	for k, v := range fields {
		switch k {
		case "agent":
			if err := d.str(&m.Pull.Agent, v, p, what+".agent"); err != nil {
				return err
			}
			u, err := url.Parse(m.Pull.Agent)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return d.errorf(p, "%s.agent: %q is not the agent's address (http://host:port)", what, m.Pull.Agent)
			}
			m.Pull.Agent = strings.TrimSuffix(m.Pull.Agent, "/")
		default:
			return d.errorf(p, "%s: unknown attribute %q (pull = { agent = \"http://host:port\"; })", what, k)
		}
	}
	return nil
}
