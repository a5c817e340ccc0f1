package services

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// PortUse is a port a machine's configuration gives to something other than
// an mkService service: `services.photoprism.port = 2342;`, a
// `listenPort`, a port opened in the firewall.
type PortUse struct {
	Port int
	// Machine is the machine whose configuration has it, Pos where.
	Machine string
	Pos     nixlang.Position
	// Attr is the attribute that sets it, as written ("port",
	// "allowedTCPPorts").
	Attr string
}

func (u PortUse) String() string {
	return fmt.Sprintf("%s (%s, on %s)", u.Pos, u.Attr, u.Machine)
}

// portUses lists the ports set in the configurations of machines, read
// statically from the files each imports: integer literals bound to an
// attribute named port or ending in Port, and the elements of
// allowedTCPPorts and allowedUDPPorts lists. The mkService entries
// themselves (skip) are left out.
func portUses(f *fleet.Fleet, machines []string, skip map[nixlang.Position]bool) []PortUse {
	var out []PortUse
	for _, name := range machines {
		m := f.Machine(name)
		if m == nil {
			continue
		}
		for _, file := range m.Files {
			pf := f.Files[file]
			if pf == nil || len(pf.Problems) > 0 {
				continue
			}
			tree, err := nixlang.Parse(file, pf.Src)
			if err != nil {
				continue
			}
			nixlang.Walk(tree.Root, func(n nixlang.Node) bool {
				a, ok := n.(*nixlang.Attr)
				if !ok {
					return true
				}
				names, ok := a.Path.Strings()
				if !ok || len(names) == 0 {
					return true
				}
				last := names[len(names)-1]
				add := func(lit *nixlang.IntLit) {
					p := nixlang.Position{File: file, Line: lit.Tok.Pos.Line, Col: lit.Tok.Pos.Col}
					if !skip[p] {
						out = append(out, PortUse{Port: int(lit.Value), Machine: name, Pos: p, Attr: strings.Join(names, ".")})
					}
				}
				switch v := nixlang.Unparen(a.Value).(type) {
				case *nixlang.IntLit:
					if last == "port" || strings.HasSuffix(last, "Port") {
						add(v)
					}
				case *nixlang.List:
					if last == "allowedTCPPorts" || last == "allowedUDPPorts" {
						for _, e := range v.Elems {
							if lit, ok := nixlang.Unparen(e).(*nixlang.IntLit); ok {
								add(lit)
							}
						}
					}
				}
				return true
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Machine != out[j].Machine {
			return out[i].Machine < out[j].Machine
		}
		return out[i].Pos.String() < out[j].Pos.String()
	})
	return out
}

// portWarnings says where the machines that will run a new service on port
// already use that port outside mkService: the service's forwarded port
// would collide with it on the host.
func portWarnings(ff *fleetFiles, port int) []string {
	f := ff.fleet
	var machines []string
	for _, m := range f.Machines {
		if slices.Contains(m.Files, ff.servicesPath) {
			machines = append(machines, m.Name)
		}
	}
	skip := map[nixlang.Position]bool{}
	for _, s := range f.Services {
		skip[s.PortPos] = true
	}
	var warnings []string
	seen := map[string]bool{}
	for _, u := range portUses(f, machines, skip) {
		if u.Port != port {
			continue
		}
		at := fmt.Sprintf("%s:%d:%d", filepath.Join(ff.root, filepath.FromSlash(u.Pos.File)), u.Pos.Line, u.Pos.Col)
		if key := u.Machine + at; !seen[key] {
			seen[key] = true
			how := fmt.Sprintf("sets %s = %d", u.Attr, port)
			if strings.HasSuffix(u.Attr, "Ports") {
				how = fmt.Sprintf("lists %d in %s", port, u.Attr)
			}
			warnings = append(warnings, fmt.Sprintf("port %d is already used on %s: %s %s", port, u.Machine, at, how))
		}
	}
	return warnings
}
