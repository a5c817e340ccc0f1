package scaffold

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// The reference fleet's example secrets are encrypted to the demo keys of
// all its machines. A fleet with fewer machines lists fewer keys in
// secrets/secrets.nix, and a secret must be encrypted to exactly the keys
// listed (`nixherd check`). Re-encrypting needs a private key, which init
// does not have, so the secrets of every smaller fleet are encrypted ahead,
// to the keys that fleet lists, and carried here: subset-secrets/<machines
// joined by +>/<name>.age. `go test ./internal/scaffold -run
// TestSubsetSecrets -update` writes them with the real age CLI, from the
// reference secrets and the demo keys of testdata/demo-keys; the next run
// (embedding is done at build time) checks them.
//
//go:embed subset-secrets
var subsetSecrets embed.FS

// subsetKey names the folder of subset-secrets for the machines kept.
func subsetKey(kept []string) string { return strings.Join(kept, "+") }

// withSubsetSecrets replaces every secrets/*.age file by its copy encrypted
// for the machines kept.
func withSubsetSecrets(files []File, kept []string) ([]File, error) {
	dir := path.Join("subset-secrets", subsetKey(kept))
	for i, f := range files {
		if path.Dir(f.Path) != "secrets" || path.Ext(f.Path) != ".age" {
			continue
		}
		data, err := fs.ReadFile(subsetSecrets, path.Join(dir, path.Base(f.Path)))
		if err != nil {
			return nil, fmt.Errorf("no example secret %s encrypted for machines %s: %w", f.Path, strings.Join(kept, ", "), err)
		}
		files[i].Data = data
	}
	return files, nil
}
