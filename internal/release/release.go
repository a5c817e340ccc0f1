// Package release is the pull mode's release manifest: what every machine of
// the fleet should run, signed by whoever publishes it, read by every
// machine's agent.
//
// A manifest lists, per machine, the store path of its system, its platform
// and the health checks deploy.nix gives it; a release number that only
// grows; and the fleet's git revision and the time it was published. It is a
// JSON document wrapped in a DSSE envelope (the Dead Simple Signing
// Envelope of in-toto and sigstore: the payload's bytes, base64, and
// signatures over "DSSEv1 <len> <type> <len> <payload>"), so the signed bytes
// are exactly the bytes an agent decodes, with no canonical JSON to agree on.
//
// Signatures are ed25519. Keys are written as Nix writes its signing keys
// (`nix key generate-secret`: "name:base64"), since Nix's keys are ed25519
// too: one key file can sign both the closures in the binary cache and the
// manifest, or two keys can, and an agent pins the public half
// ("name:base64", `nix key convert-secret-to-public`). The signature's key
// id is the key's name.
//
// Caveats: a signature says who published a manifest, not that it is the
// newest; agents refuse a release number lower than the one they applied
// (a replayed manifest), but a withheld manifest looks like no news. The
// store paths it names are trusted only as far as the binary cache's own
// signatures, which Nix checks when an agent fetches them.
package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
)

// Format is the manifest format this package writes and reads.
const Format = 1

// PayloadType is the DSSE payload type of a manifest.
const PayloadType = "application/vnd.nixherd.release+json"

// MaxSize bounds a manifest (envelope included) an agent accepts.
const MaxSize = 16 << 20

// Manifest is one release of the fleet.
type Manifest struct {
	Format int `json:"format"`
	// Release numbers the manifests of a destination: each new one is
	// higher than the last.
	Release int64 `json:"release"`
	// Revision is the fleet's git commit ("" outside git); Dirty says the
	// work tree had changes not committed.
	Revision string    `json:"revision,omitempty"`
	Dirty    bool      `json:"dirty,omitempty"`
	Time     time.Time `json:"time"`
	// Machines maps a machine's name (its deploy.nix name) to what it runs.
	Machines map[string]Machine `json:"machines"`
}

// Machine is what one machine of a release runs.
type Machine struct {
	Path     string            `json:"path"`
	Platform platform.Platform `json:"platform"`
	// HealthChecks are deploy.nix's checks for the machine, run by its agent
	// before it confirms the new system.
	HealthChecks []hosts.HealthCheck `json:"healthChecks,omitempty"`
}

// Names lists the machines in order.
func (m *Manifest) Names() []string {
	names := make([]string, 0, len(m.Machines))
	for n := range m.Machines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SameMachines reports whether two manifests give every machine the same
// path, platform and health checks (release, revision and time aside).
func (m *Manifest) SameMachines(o *Manifest) bool {
	if len(m.Machines) != len(o.Machines) {
		return false
	}
	for name, a := range m.Machines {
		b, ok := o.Machines[name]
		if !ok {
			return false
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			return false
		}
	}
	return true
}

// storePathRE is a store path as Nix makes them: 32 characters of its
// base-32 hash, then the name.
var storePathRE = regexp.MustCompile(`^/nix/store/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$`)

// ValidStorePath reports whether p is a store path (and nothing that a
// shell or nix would read as more).
func ValidStorePath(p string) bool { return storePathRE.MatchString(p) }

// ErrFormat is a manifest that is not one: bad JSON, a newer format, a
// missing field, a path that is not a store path.
var ErrFormat = errors.New("not a valid release manifest")

// Validate checks what an agent relies on.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	switch {
	case m.Format != Format:
		return bad("format %d (this nixherd reads format %d)", m.Format, Format)
	case m.Release < 1:
		return bad("release number %d", m.Release)
	case m.Time.IsZero():
		return bad("no time")
	}
	for _, name := range m.Names() {
		mm := m.Machines[name]
		if name == "" {
			return bad("a machine without a name")
		}
		if !ValidStorePath(mm.Path) {
			return bad("machine %s: %q is not a store path", name, mm.Path)
		}
		if mm.Platform != platform.NixOS && mm.Platform != platform.Darwin {
			return bad("machine %s: platform %q (pull mode runs nixos and darwin machines)", name, mm.Platform)
		}
	}
	return nil
}

// decode reads a manifest's JSON (the envelope's payload).
func decode(payload []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
