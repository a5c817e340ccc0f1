package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
)

func checkSyntax(f *fleet.Fleet) []Finding {
	var out []Finding
	for _, file := range f.Files {
		for _, p := range file.Problems {
			fd := at(p.Pos, Error, p.Message)
			fd.Rule = p.Kind
			out = append(out, fd)
		}
	}
	return out
}

func checkImportsExist(f *fleet.Fleet) []Finding {
	var out []Finding
	for _, im := range f.Imports {
		if im.Exists {
			continue
		}
		what := string(im.Kind)
		if im.Kind == fleet.FlakeModule {
			what = "modules"
		}
		out = append(out, at(im.Pos, Error, fmt.Sprintf("%s %s: %s does not exist", what, im.Written, im.To)))
	}
	return out
}

// Where the seed keeps reusable modules and per-machine configurations.
var (
	programDirs = []string{"programs/", "modules/"}
	machineDirs = []string{"machines/", "hosts/"}
)

func hasDirPrefix(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// machineFiles are the files that belong to a machine: everything under
// machines/ or hosts/, and the directory of each machine's own file.
func machineFiles(f *fleet.Fleet) func(string) bool {
	dirs := append([]string(nil), machineDirs...)
	for _, m := range f.Machines {
		if m.MainFile != "" && !hasDirPrefix(m.MainFile, programDirs) {
			if i := strings.LastIndex(m.MainFile, "/"); i > 0 {
				dirs = append(dirs, m.MainFile[:i+1])
			}
		}
	}
	return func(p string) bool { return hasDirPrefix(p, dirs) }
}

// checkProgramImports enforces the seed's one-way dependency: machines
// import programs, programs never import machines. A violation through
// intermediate files is reported at the program's import with the chain.
func checkProgramImports(f *fleet.Fleet) []Finding {
	isMachine := machineFiles(f)
	isProgram := func(p string) bool { return hasDirPrefix(p, programDirs) && !isMachine(p) }
	edges := map[string][]string{}
	for _, im := range f.Imports {
		if im.Exists && im.To != "" && im.Kind != fleet.FlakeModule {
			edges[im.From] = append(edges[im.From], im.To)
		}
	}
	for _, tos := range edges {
		sort.Strings(tos)
	}
	// chainToMachine finds the shortest chain from start to a machine file
	// that does not pass through another program (which gets its own finding).
	chainToMachine := func(start string) []string {
		prev := map[string]string{start: ""}
		queue := []string{start}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			if isMachine(cur) {
				var chain []string
				for p := cur; p != ""; p = prev[p] {
					chain = append([]string{p}, chain...)
				}
				return chain
			}
			if isProgram(cur) && cur != start {
				continue
			}
			for _, next := range edges[cur] {
				if _, seen := prev[next]; !seen {
					prev[next] = cur
					queue = append(queue, next)
				}
			}
		}
		return nil
	}
	var out []Finding
	for _, im := range f.Imports {
		if !im.Exists || im.To == "" || !isProgram(im.From) || im.Kind == fleet.FlakeModule {
			continue
		}
		if isProgram(im.To) && !isMachine(im.To) {
			continue
		}
		chain := chainToMachine(im.To)
		if chain == nil {
			continue
		}
		msg := fmt.Sprintf("program module imports machine config %s", chain[len(chain)-1])
		if len(chain) > 1 {
			msg = fmt.Sprintf("program module imports machine config %s through %s", chain[len(chain)-1], strings.Join(append([]string{im.From}, chain...), " → "))
		}
		out = append(out, at(im.Pos, Error, msg+"; programs must not depend on machines"))
	}
	return out
}
