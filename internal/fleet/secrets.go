package fleet

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// rulesFiles are where agenix rules live, in the order they are looked for.
var rulesFiles = []string{"secrets/secrets.nix", "secrets.nix"}

// readSecrets reads the agenix rules file statically: its keys are the
// secret files, relative to the rules file, and each has publicKeys, often
// built from let-bound keys and lists joined with ++.
func (r *reader) readSecrets() {
	for _, rf := range rulesFiles {
		if _, err := os.Stat(filepath.Join(r.f.Root, filepath.FromSlash(rf))); err == nil {
			r.f.SecretsFile = rf
			break
		}
	}
	dir := "secrets"
	if r.f.SecretsFile != "" {
		dir = path.Dir(r.f.SecretsFile)
	}
	if dir != "." {
		r.f.SecretFiles = secretDirFiles(r.f.Root, dir)
	}
	root := r.trees[r.f.SecretsFile]
	if root == nil {
		return
	}
	rules := r.ev.top(root, r.f.SecretsFile)
	if rules.kind != attrsVal {
		r.note(rules.pos(), "%s is not a plain attribute set of secrets; its secrets cannot be read statically", r.f.SecretsFile)
		return
	}
	if rules.attrs.partial {
		r.note(rules.pos(), "%s has secrets with computed names; only the others are checked", r.f.SecretsFile)
	}
	for _, name := range rules.attrs.names {
		s := &Secret{Name: name, File: path.Join(dir, name), Pos: rules.attrs.keys[name], KeysKnown: true}
		v := r.ev.force(rules.attrs.vals[name])
		if a := lookup(r.ev, v, "armor"); a != nil && a.kind == boolVal {
			s.Armor = a.b
		}
		keys := lookup(r.ev, v, "publicKeys")
		switch {
		case keys == nil:
			r.note(s.Pos, "secret %s has no publicKeys", name)
			s.KeysKnown = false
		case keys.kind != listVal:
			s.KeysKnown = false
			r.note(keys.pos(), "the publicKeys of %s are computed (%s); they are not checked", name, describe(keys))
		default:
			for _, k := range keys.list {
				if k.kind == strVal {
					s.PublicKeys = append(s.PublicKeys, PublicKey{Key: k.s, Pos: k.pos()})
				} else {
					s.KeysKnown = false
					r.note(k.pos(), "a publicKeys entry of %s is computed (%s); it is not checked", name, describe(k))
				}
			}
		}
		r.f.Secrets = append(r.f.Secrets, s)
	}
}

// readSecretUses finds the age.secrets.NAME.file paths the modules set.
func (r *reader) readSecretUses(paths []string) {
	for _, file := range paths {
		if file == flakeFile || file == r.f.SecretsFile || r.trees[file] == nil || !bytes.Contains(r.f.Files[file].Src, []byte("secrets")) {
			continue
		}
		mod := r.moduleValue(file)
		if mod == nil {
			continue
		}
		set := lookup(r.ev, mod, "age", "secrets")
		if set == nil || set.kind != attrsVal {
			continue
		}
		for _, name := range set.attrs.names {
			f := lookup(r.ev, r.ev.force(set.attrs.vals[name]), "file")
			if f != nil && f.kind == pathVal && !strings.HasPrefix(f.s, "/") {
				r.f.SecretUses = append(r.f.SecretUses, &SecretUse{Name: name, File: f.s, Pos: f.pos()})
			}
		}
	}
}
