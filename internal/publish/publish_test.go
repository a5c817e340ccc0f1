package publish_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/publish"
	"github.com/nixherd/nixherd/internal/pulltest"
	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
)

type fleet struct {
	t        *testing.T
	dir      string
	machines []testhost.FixtureMachine
	cache    *pulltest.Cache
	cacheKey pulltest.Key
	key      release.SecretKey
	dest     release.Destination
}

func newFleet(t *testing.T) *fleet {
	testenv.NeedRoot(t)
	testenv.NixEnv(t)
	dir := t.TempDir()
	f := &fleet{t: t, dir: filepath.Join(dir, "fleet"), machines: []testhost.FixtureMachine{
		{Name: "web1", Platform: platform.NixOS, Generation: "1"},
		{Name: "web2", Platform: platform.NixOS, Generation: "1"},
		{Name: "mac", Platform: platform.Darwin, Generation: "1"},
	}, dest: release.DestinationOf(filepath.Join(dir, "www") + "/")}
	var err error
	if f.cacheKey, err = pulltest.NewKey(dir, "cache-1"); err != nil {
		t.Fatal(err)
	}
	mk, err := pulltest.NewKey(dir, "manifest-1")
	if err != nil {
		t.Fatal(err)
	}
	if f.key, err = release.ReadSecretKey(mk.SecretFile); err != nil {
		t.Fatal(err)
	}
	if f.cache, err = pulltest.NewCache("127.0.0.1:0", filepath.Join(dir, "cache")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cache.Close() })
	f.write()
	return f
}

func (f *fleet) write() {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("{ machines = {\n")
	for _, m := range f.machines {
		extra := ""
		if m.Name == "web1" {
			extra = `healthChecks = [ { tcp = "web1.invalid:22"; } ];`
		}
		fmt.Fprintf(&b, "  %s = { target = \"root@%s.invalid\"; buildOn = \"target\"; %s };\n", m.Name, m.Name, extra)
	}
	b.WriteString("}; }\n")
	if err := testhost.WriteFixture(f.dir, testhost.FixtureOptions{Machines: f.machines, Files: map[string]string{"deploy.nix": b.String()}}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fleet) publish(selectors ...string) (*publish.Result, error) {
	f.t.Helper()
	inv, err := hosts.Load(context.Background(), f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	ms, err := inv.Select(selectors, len(selectors) == 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return publish.Publish(context.Background(), ms, publish.Options{Flake: f.dir, Cache: f.cache.Store,
		CacheKey: f.cacheKey.SecretFile, Key: f.key, Destination: f.dest})
}

func (f *fleet) manifest() *release.Manifest {
	f.t.Helper()
	data, err := f.dest.Read()
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := release.Verify(data, []release.PublicKey{f.key.Public()})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func changed(r *publish.Result) []string {
	var out []string
	for _, m := range r.Machines {
		if m.Changed {
			out = append(out, m.Machine)
		}
	}
	return out
}

// TestPublishOnceThenNoOp: the first publish signs and pushes every closure
// and writes release 1 with each machine's path, platform and health
// checks; publishing the same closures again keeps release 1.
func TestPublishOnceThenNoOp(t *testing.T) {
	f := newFleet(t)
	r, err := f.publish()
	if err != nil {
		t.Fatal(err)
	}
	if r.Release != 1 || r.Unchanged || len(changed(r)) != 3 {
		t.Fatalf("first publish: %+v", r)
	}
	m := f.manifest()
	if m.Release != 1 || len(m.Machines) != 3 || m.Machines["mac"].Platform != platform.Darwin ||
		len(m.Machines["web1"].HealthChecks) != 1 || m.Machines["web1"].HealthChecks[0].TCP != "web1.invalid:22" {
		t.Fatalf("manifest: %+v", m)
	}
	for name, mm := range m.Machines {
		narinfo := filepath.Join(f.cache.Dir, strings.SplitN(strings.TrimPrefix(mm.Path, "/nix/store/"), "-", 2)[0]+".narinfo")
		b, err := os.ReadFile(narinfo)
		if err != nil || !strings.Contains(string(b), "Sig: cache-1:") {
			t.Errorf("%s: the cache has no signed narinfo for %s: %v", name, mm.Path, err)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dest.Archive, "1.json")); err != nil {
		t.Errorf("release 1 not archived: %v", err)
	}

	before, _ := f.dest.Read()
	r, err = f.publish()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := f.dest.Read()
	if r.Release != 1 || !r.Unchanged || string(before) != string(after) {
		t.Fatalf("republishing the same closures: %+v (manifest rewritten: %v)", r, string(before) != string(after))
	}
}

// TestPublishSomeMachinesKeepsTheOthers: a publish of selected machines
// replaces only their entries, under a higher release number.
func TestPublishSomeMachinesKeepsTheOthers(t *testing.T) {
	f := newFleet(t)
	if _, err := f.publish(); err != nil {
		t.Fatal(err)
	}
	old := f.manifest()
	f.machines[0].Generation, f.machines[1].Generation = "2", "2"
	f.write()
	r, err := f.publish("web1")
	if err != nil {
		t.Fatal(err)
	}
	m := f.manifest()
	if r.Release != 2 || m.Release != 2 || strings.Join(changed(r), ",") != "web1" {
		t.Fatalf("publish web1: %+v", r)
	}
	if m.Machines["web1"].Path == old.Machines["web1"].Path || m.Machines["web2"].Path != old.Machines["web2"].Path {
		t.Errorf("web1 %s (was %s), web2 %s (was %s)", m.Machines["web1"].Path, old.Machines["web1"].Path, m.Machines["web2"].Path, old.Machines["web2"].Path)
	}
}

// TestPublishRefusesAndWritesNothing: bad input changes nothing at the
// destination.
func TestPublishRefusesAndWritesNothing(t *testing.T) {
	f := newFleet(t)
	if _, err := f.publish(); err != nil {
		t.Fatal(err)
	}
	before, _ := f.dest.Read()

	t.Run("unsigned cache", func(t *testing.T) {
		_, err := publish.Publish(context.Background(), nil, publish.Options{Flake: f.dir, Cache: f.cache.Store, Key: f.key, Destination: f.dest})
		if !errors.Is(err, publish.ErrUnsigned) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a machine that does not build", func(t *testing.T) {
		f.machines[0].Generation = "broken"
		f.write()
		// Break web1's configuration: its flake entry is gone.
		os.WriteFile(filepath.Join(f.dir, "machines.nix"), []byte(strings.Replace(readFile(t, filepath.Join(f.dir, "machines.nix")), `name = "web1"`, `name = "web1-gone"`, 1)), 0o644)
		_, err := f.publish()
		if err == nil || !strings.Contains(err.Error(), "nothing was published") || !strings.Contains(err.Error(), "web1") {
			t.Errorf("err = %v", err)
		}
		f.machines[0].Generation = "1"
		f.write()
	})
	t.Run("a destination holding something else", func(t *testing.T) {
		other := release.DestinationOf(filepath.Join(t.TempDir(), "index.html"))
		os.WriteFile(other.Path, []byte("<html>"), 0o644)
		_, err := publish.Publish(context.Background(), nil, publish.Options{Flake: f.dir, Cache: f.cache.Store, CacheKey: f.cacheKey.SecretFile, Key: f.key, Destination: other})
		if err == nil || !strings.Contains(err.Error(), "not a release manifest") {
			t.Errorf("err = %v", err)
		}
		if b, _ := os.ReadFile(other.Path); string(b) != "<html>" {
			t.Errorf("the file was replaced: %q", b)
		}
	})
	if after, _ := f.dest.Read(); string(after) != string(before) {
		t.Error("a refused publish changed the manifest")
	}
}

// TestPublishAfterKeyRotation: a manifest signed by another key is
// replaced by a higher release signed with the new key.
func TestPublishAfterKeyRotation(t *testing.T) {
	f := newFleet(t)
	if _, err := f.publish(); err != nil {
		t.Fatal(err)
	}
	mk, err := pulltest.NewKey(t.TempDir(), "manifest-2")
	if err != nil {
		t.Fatal(err)
	}
	if f.key, err = release.ReadSecretKey(mk.SecretFile); err != nil {
		t.Fatal(err)
	}
	r, err := f.publish()
	if err != nil || r.Release != 2 || r.Unchanged {
		t.Fatalf("publish with the new key: %+v, %v", r, err)
	}
	if m := f.manifest(); m.Release != 2 {
		t.Errorf("release %d", m.Release)
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
