package check

import (
	"fmt"
	"sort"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// maxIndex keeps 192.168.100.(10 + index) a host address of the /24.
const maxIndex = 254 - 10

// checkServices enforces the mkService conventions: each service has its
// own index (its container address is 192.168.100.(10 + index)) and host
// port, and a flake input to build it from.
func checkServices(f *fleet.Fleet) []Finding {
	var out []Finding
	services := append([]*fleet.Service(nil), f.Services...)
	sort.SliceStable(services, func(i, j int) bool { return posLess(services[i].Pos, services[j].Pos) })
	byIndex := map[int]*fleet.Service{}
	byPort := map[int]*fleet.Service{}
	for _, s := range services {
		if s.HasIndex {
			if prev, dup := byIndex[s.Index]; dup {
				out = append(out, at(s.IndexPos, Error, fmt.Sprintf("service %s reuses index %d of service %s (%s); each service needs its own address 192.168.100.%d", s.Name, s.Index, prev.Name, prev.IndexPos, 10+s.Index)))
			} else {
				byIndex[s.Index] = s
			}
			if s.Index < 0 || s.Index > maxIndex {
				out = append(out, at(s.IndexPos, Error, fmt.Sprintf("service %s has index %d: 10 + index must be between 10 and 254 (index 0..%d)", s.Name, s.Index, maxIndex)))
			}
		} else {
			out = append(out, Finding{File: s.IndexPos.File, Line: s.IndexPos.Line, Col: s.IndexPos.Col, Severity: Warning, Rule: "static",
				Message: fmt.Sprintf("the index of service %s is computed; its uniqueness is not checked", s.Name)})
		}
		if s.HasPort {
			if prev, dup := byPort[s.Port]; dup {
				out = append(out, at(s.PortPos, Error, fmt.Sprintf("service %s reuses host port %d of service %s (%s)", s.Name, s.Port, prev.Name, prev.PortPos)))
			} else {
				byPort[s.Port] = s
			}
			if s.Port < 1 || s.Port > 65535 {
				out = append(out, at(s.PortPos, Error, fmt.Sprintf("service %s has port %d, outside 1..65535", s.Name, s.Port)))
			}
		} else {
			out = append(out, Finding{File: s.PortPos.File, Line: s.PortPos.Line, Col: s.PortPos.Col, Severity: Warning, Rule: "static",
				Message: fmt.Sprintf("the port of service %s is computed; its uniqueness is not checked", s.Name)})
		}
		out = append(out, serviceInput(f, s)...)
		if !s.Imported {
			out = append(out, at(s.Pos, Warning, fmt.Sprintf("service %s is defined but no mkService %q call imports it", s.Name, s.Name)))
		}
		for _, name := range s.Secrets {
			if f.SecretsFile != "" && !hasSecret(f, name) {
				out = append(out, at(s.Pos, Error, fmt.Sprintf("service %s uses secret %s, which %s does not define", s.Name, name, f.SecretsFile)))
			}
		}
	}
	return out
}

func serviceInput(f *fleet.Fleet, s *fleet.Service) []Finding {
	sf, ok := f.ServiceFlakes[s.Name]
	if !ok {
		return []Finding{at(s.Pos, Error, fmt.Sprintf("service %s has no flake: add its input to flake.nix and `%s = <input>;` to _module.args.serviceFlakes", s.Name, s.Name))}
	}
	if sf.Input != "" && f.Input(sf.Input) == nil {
		return []Finding{at(sf.Pos, Error, fmt.Sprintf("serviceFlakes.%s names input %s, which flake.nix does not declare", s.Name, sf.Input))}
	}
	return nil
}

func hasSecret(f *fleet.Fleet, name string) bool {
	for _, s := range f.Secrets {
		if s.Name == name+".age" || s.Name == name {
			return true
		}
	}
	return false
}

func posLess(a, b nixlang.Position) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}
