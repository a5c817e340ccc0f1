package secrets

import (
	"encoding/json"
	"regexp"
)

// staticRules reads a rules file without nix. Until the static reader is
// wired in, a missing nix is a clear error.
func staticRules(abs, shown string, src []byte) (map[string]json.RawMessage, error) {
	return nil, &RulesError{File: shown, Msg: errNeedNix.Error()}
}

// keyBinding matches `name = "ssh-… / age1…";`, a key bound to a name in a
// let or an attribute set, the way fleets name their keys.
var keyBinding = regexp.MustCompile(`(?:^|[\s{;])([A-Za-z_][A-Za-z0-9_'-]*)\s*=\s*"((?:ssh-|age1)[^"\\]*)"\s*;`)

// keyNames maps each key string bound to a name in src to that name.
func keyNames(src []byte) map[string]string {
	names := map[string]string{}
	for _, m := range keyBinding.FindAllSubmatch(src, -1) {
		if _, dup := names[string(m[2])]; !dup {
			names[string(m[2])] = string(m[1])
		}
	}
	return names
}
