package nixlang

import (
	"sort"
	"sync"
	"unsafe"
)

// Globals are the names Nix puts in scope of every file: the builtins
// registered under their own name (true, import, map, …) and those only
// reachable with a "__" prefix (__sub, __attrNames, …). Nix 2.8's list was
// read from nix-instantiate 2.8 itself (every name that `--parse` accepts);
// later Nix versions add the names in globalsAdded.
var globals28 = []string{
	"abort", "baseNameOf", "builtins", "derivation", "derivationStrict", "dirOf", "false",
	"fetchGit", "fetchMercurial", "fetchTarball", "fetchTree", "fromTOML", "import", "isNull",
	"map", "null", "placeholder", "removeAttrs", "scopedImport", "throw", "toString", "true",
	"__add", "__addErrorContext", "__all", "__any", "__appendContext", "__attrNames",
	"__attrValues", "__bitAnd", "__bitOr", "__bitXor", "__catAttrs", "__ceil",
	"__compareVersions", "__concatLists", "__concatMap", "__concatStringsSep",
	"__currentSystem", "__currentTime", "__deepSeq", "__div", "__elem", "__elemAt",
	"__fetchurl", "__filter", "__filterSource", "__findFile", "__floor", "__foldl'",
	"__fromJSON", "__functionArgs", "__genList", "__genericClosure", "__getAttr",
	"__getContext", "__getEnv", "__getFlake", "__groupBy", "__hasAttr", "__hasContext",
	"__hashFile", "__hashString", "__head", "__intersectAttrs", "__isAttrs", "__isBool",
	"__isFloat", "__isFunction", "__isInt", "__isList", "__isPath", "__isString",
	"__langVersion", "__length", "__lessThan", "__listToAttrs", "__mapAttrs", "__match",
	"__mul", "__nixPath", "__nixVersion", "__parseDrvName", "__partition", "__path",
	"__pathExists", "__readDir", "__readFile", "__replaceStrings", "__seq", "__sort",
	"__split", "__splitVersion", "__storeDir", "__storePath", "__stringLength", "__sub",
	"__substring", "__tail", "__toFile", "__toJSON", "__toPath", "__toXML", "__trace",
	"__tryEval", "__typeOf", "__unsafeDiscardOutputDependency",
	"__unsafeDiscardStringContext", "__unsafeGetAttrPos", "__zipAttrsWith",
	// Registered in 2.8 only with an experimental feature enabled.
	"__fetchClosure",
}

// globalsAdded are builtins that Nix versions after 2.8 put in scope.
var globalsAdded = []string{
	"__traceVerbose",             // 2.10
	"__break",                    // debugger, 2.9
	"__readFileType",             // 2.14
	"__convertHash",              // 2.19
	"__parseFlakeRef",            // 2.18, flakes
	"__flakeRefToString",         // 2.18, flakes
	"__addDrvOutputDependencies", // 2.18
	"__outputOf",                 // dynamic derivations
	"__warn",                     // 2.23
	"__fetchFinalTree",           // 2.24, internal
	"__filterAttrs",              // 2.31
}

var globalsCurrent = func() []string {
	g := append(append([]string(nil), globals28...), globalsAdded...)
	sort.Strings(g)
	return g
}()

// GlobalsNix28 returns the global names of Nix 2.8. The slice is shared:
// do not modify it.
func GlobalsNix28() []string { return globals28 }

// GlobalsCurrent returns the global names of current Nix (a superset of
// 2.8's). The slice is shared: do not modify it.
func GlobalsCurrent() []string { return globalsCurrent }

var (
	globalScopesMu sync.Mutex
	globalScopes   = map[*string]*scope{}
)

// globalScope returns the outermost scope for a list of global names,
// built once per list.
func globalScope(names []string) *scope {
	if len(names) == 0 {
		return &scope{vars: map[string]bool{}}
	}
	key := unsafe.SliceData(names)
	globalScopesMu.Lock()
	defer globalScopesMu.Unlock()
	if s, ok := globalScopes[key]; ok && len(s.vars) == len(names) {
		return s
	}
	s := &scope{vars: make(map[string]bool, len(names))}
	for _, g := range names {
		s.vars[g] = true
	}
	if key == unsafe.SliceData(globals28) || key == unsafe.SliceData(globalsCurrent) {
		globalScopes[key] = s
	}
	return s
}
