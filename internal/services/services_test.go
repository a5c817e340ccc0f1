package services

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	nixherd "github.com/nixherd/nixherd"
)

// referenceFleet writes the reference fleet (what nixherd init writes) to
// a temporary folder.
func referenceFleet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(nixherd.ReferenceFleet, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(nixherd.ReferenceFleet, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeFleet writes files (relative path → content) to a temporary folder.
func writeFleet(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func read(t *testing.T, dir, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mustAdd(t *testing.T, dir string, spec Spec) *Change {
	t.Helper()
	ch, err := Add(dir, spec)
	if err != nil {
		t.Fatalf("Add(%s): %v", spec.Name, err)
	}
	if err := ch.Commit(); err != nil {
		t.Fatal(err)
	}
	return ch
}

func mustRemove(t *testing.T, dir, name string) *Change {
	t.Helper()
	ch, err := Remove(dir, name)
	if err != nil {
		t.Fatalf("Remove(%s): %v", name, err)
	}
	if err := ch.Commit(); err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "notes", "llm-proxy", "abcdefghijk", "svc2"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v, want ok", ok, err)
		}
	}
	for name, want := range map[string]string{
		"":             "empty",
		"my_svc":       "cannot contain _",
		"abcdefghijkl": "at most 11",
		"9lives":       "start with a lowercase letter",
		"-x":           "start with a lowercase letter",
		"Web":          "start with a lowercase letter",
		"web.app":      "only lowercase letters",
		"wéb":          "only lowercase letters",
		"in":           "reserved",
		"self":         "reserved",
	} {
		err := CheckName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckName(%q) = %v, want an error saying %q", name, err, want)
		}
	}
}

func TestParseEnv(t *testing.T) {
	e, err := ParseEnv("URL=https://x/?a=b")
	if err != nil || e.Key != "URL" || e.Value != "https://x/?a=b" {
		t.Errorf("ParseEnv = %+v, %v; want the value to keep its own =", e, err)
	}
	if e, err := ParseEnv("EMPTY="); err != nil || e.Value != "" {
		t.Errorf("ParseEnv(EMPTY=) = %+v, %v", e, err)
	}
	for _, bad := range []string{"NOVALUE", "=x", "1A=x", "A-B=x", "A B=x"} {
		if _, err := ParseEnv(bad); err == nil {
			t.Errorf("ParseEnv(%q) succeeded", bad)
		}
	}
}

func TestSecretVariable(t *testing.T) {
	if got := SecretVariable("openai-api-key"); got != "OPENAI_API_KEY_FILE" {
		t.Errorf("SecretVariable = %s", got)
	}
}

// Adding services in several shapes of flake.nix and removing them again
// gives back the files byte for byte.
func TestAddRemoveRoundTrip(t *testing.T) {
	services := `{ serviceFlakes, ... }:
let
  mkService = import ./mk-service.nix;
  services = {
    web = { port = 8080; index = 0; };
  };
in
{
  imports = [ (mkService "web" services.web serviceFlakes.web) ];
}
`
	flakes := map[string]string{
		"formals one per line": `{
  inputs = {
    web.url = "path:./web"; # the web service
  };
  outputs =
    {
      self,
      web,
      ...
    }:
    {
      nixosModules.x = {
        _module.args.serviceFlakes = {
          web = web;
        };
      };
    };
}
`,
		"formals inline, no ellipsis": `{
  inputs.web.url = "path:./web";
  outputs = { self, web }: {
    nixosModules.x._module.args.serviceFlakes = { web = web; };
  };
}
`,
		"through inputs@": `{
  inputs = { web.url = "path:./web"; };
  outputs = inputs@{ self, ... }: {
    nixosModules.x._module.args.serviceFlakes = {
      web = inputs.web;
    };
  };
}
`,
		"plain inputs argument": `{
  inputs = {
    web = {
      url = "path:./web";
      flake = true;
    };
  };
  outputs = inputs: {
    nixosModules.x._module.args.serviceFlakes = {
      web = inputs.web;
    };
  };
}
`,
	}
	for name, flake := range flakes {
		t.Run(name, func(t *testing.T) {
			dir := writeFleet(t, map[string]string{
				"flake.nix":                          flake,
				"programs/services/git-services.nix": services,
				"programs/services/mk-service.nix":   "name: service: flake: { }\n",
			})
			mustAdd(t, dir, Spec{Name: "api", FlakeURL: "github:me/api", Port: 8081, Index: -1})
			got := read(t, dir, "flake.nix")
			if !strings.Contains(got, `api.url = "github:me/api";`) {
				t.Errorf("no api input in:\n%s", got)
			}
			if strings.Contains(flake, "inputs.web.url") && !strings.Contains(got, "inputs.web.url = \"path:./web\";\n  inputs.api.url = \"github:me/api\";\n") {
				t.Errorf("dotted input not added after the other one:\n%s", got)
			}
			mustAdd(t, dir, Spec{Name: "my-db", FlakeURL: "github:me/db", Port: 8082, Index: 7})
			list, err := List(dir)
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]Service{}
			for _, s := range list {
				byName[s.Name] = s
			}
			if s := byName["api"]; s.Index != 1 || s.Address != "192.168.100.11" || s.URL != "github:me/api" || s.Input != "api" {
				t.Errorf("api listed as %+v", s)
			}
			if s := byName["my-db"]; s.Index != 7 || s.URL != "github:me/db" {
				t.Errorf("my-db listed as %+v", s)
			}
			mustRemove(t, dir, "api")
			mustRemove(t, dir, "my-db")
			if got := read(t, dir, "flake.nix"); got != flake {
				t.Errorf("flake.nix after add and remove:\n%s\nwant:\n%s", got, flake)
			}
			if got := read(t, dir, "programs/services/git-services.nix"); got != services {
				t.Errorf("git-services.nix after add and remove:\n%s\nwant:\n%s", got, services)
			}
		})
	}
}

// An input flake.nix still uses elsewhere stays when its service goes.
func TestRemoveKeepsInputStillUsed(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"flake.nix": `{
  inputs.web.url = "path:./web";
  outputs = { self, web, ... }: {
    packages.x86_64-linux.web = web.packages.x86_64-linux.default;
    nixosModules.x._module.args.serviceFlakes = {
      web = web;
    };
  };
}
`,
		"programs/services/git-services.nix": `{ serviceFlakes, ... }:
let
  mkService = import ./mk-service.nix;
  services = {
    web = {
      port = 8080;
      index = 0;
    };
  };
in
{
  imports = [
    (mkService "web" services.web serviceFlakes.web)
  ];
}
`,
		"programs/services/mk-service.nix": "name: service: flake: { }\n",
	})
	ch := mustRemove(t, dir, "web")
	if ch.Input != "" || !strings.Contains(ch.KeptInput, "still uses input web") {
		t.Errorf("Input = %q, KeptInput = %q; want the input kept", ch.Input, ch.KeptInput)
	}
	flake := read(t, dir, "flake.nix")
	if !strings.Contains(flake, `inputs.web.url = "path:./web";`) || !strings.Contains(flake, "{ self, web, ... }") {
		t.Errorf("input or argument removed although still used:\n%s", flake)
	}
	if strings.Contains(flake, "web = web;") {
		t.Errorf("serviceFlakes entry not removed:\n%s", flake)
	}
	if strings.Contains(read(t, dir, "programs/services/git-services.nix"), "web") {
		t.Errorf("services entry or import not removed")
	}
}

// Commit replaces both files or neither: a file changed on disk after the
// edit was computed stops it before anything is written.
func TestCommitRefusesChangedFile(t *testing.T) {
	dir := referenceFleet(t)
	before := read(t, dir, FlakeFile)
	ch, err := Add(dir, Spec{Name: "notes", FlakeURL: "github:me/notes", Port: 8070, Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	changed := read(t, dir, ServicesFile) + "# edited meanwhile\n"
	if err := os.WriteFile(filepath.Join(dir, ServicesFile), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	err = ch.Commit()
	if err == nil || !strings.Contains(err.Error(), "changed while nixherd was editing it") {
		t.Fatalf("Commit = %v, want a refusal", err)
	}
	if read(t, dir, FlakeFile) != before || read(t, dir, ServicesFile) != changed {
		t.Error("Commit changed a file although it refused")
	}
	assertNoTemps(t, dir)
}

// A failure while writing the temporary files (here: the services folder
// is read-only) leaves both files as they were.
func TestCommitFailureChangesNothing(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only folders")
	}
	dir := referenceFleet(t)
	flake, services := read(t, dir, FlakeFile), read(t, dir, ServicesFile)
	ch, err := Add(dir, Spec{Name: "notes", FlakeURL: "github:me/notes", Port: 8070, Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	sdir := filepath.Join(dir, filepath.Dir(ServicesFile))
	if err := os.Chmod(sdir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(sdir, 0o755)
	if err := ch.Commit(); err == nil {
		t.Fatal("Commit succeeded in a read-only folder")
	}
	if read(t, dir, FlakeFile) != flake || read(t, dir, ServicesFile) != services {
		t.Error("a failed Commit changed a file")
	}
	assertNoTemps(t, dir)
}

// A rename that fails after the first file was replaced puts the first one
// back.
func TestCommitRollsBackFailedRename(t *testing.T) {
	dir := referenceFleet(t)
	flake, services := read(t, dir, FlakeFile), read(t, dir, ServicesFile)
	ch, err := Add(dir, Spec{Name: "notes", FlakeURL: "github:me/notes", Port: 8070, Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	renames := 0
	rename = func(from, to string) error {
		renames++
		if strings.HasSuffix(to, "git-services.nix") {
			return fmt.Errorf("disk full")
		}
		return os.Rename(from, to)
	}
	defer func() { rename = os.Rename }()
	err = ch.Commit()
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("Commit = %v, want a failure that changed nothing", err)
	}
	if renames != 3 { // flake.nix, git-services.nix (fails), flake.nix back
		t.Errorf("%d renames, want 3", renames)
	}
	if read(t, dir, FlakeFile) != flake || read(t, dir, ServicesFile) != services {
		t.Error("a failed Commit left a file replaced")
	}
	assertNoTemps(t, dir)
}

// A flake.nix that is a symbolic link (a fleet kept in a dotfiles
// repository) stays a link; the file it points to is edited.
func TestCommitFollowsSymlinks(t *testing.T) {
	dir := referenceFleet(t)
	elsewhere := filepath.Join(t.TempDir(), "flake.nix")
	if err := os.Rename(filepath.Join(dir, FlakeFile), elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, FlakeFile)); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, dir, Spec{Name: "notes", FlakeURL: "github:me/notes", Port: 8070, Index: -1})
	if fi, err := os.Lstat(filepath.Join(dir, FlakeFile)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("flake.nix is no longer a symbolic link (%v)", err)
	}
	if !strings.Contains(read(t, filepath.Dir(elsewhere), "flake.nix"), "notes.url") {
		t.Error("the linked file was not edited")
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".nixherd-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// The services file in a fleet where machines do not import it: list shows
// the service with no machines.
func TestListMachines(t *testing.T) {
	dir := referenceFleet(t)
	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "llmproxy" || list[1].Name != "gitstats" {
		t.Fatalf("List = %+v", list)
	}
	llm := list[0]
	if llm.URL != "path:./service-flakes/llm-proxy" || llm.Input != "llm-proxy" || llm.Port != 8060 || llm.Address != "192.168.100.15" ||
		strings.Join(llm.Secrets, ",") != "openai-api-key" || strings.Join(llm.Machines, ",") != "devnix" {
		t.Errorf("llmproxy = %+v", llm)
	}
	// Without the import in devnix's configuration no machine runs it.
	p := filepath.Join(dir, "machines", "devnix", "default.nix")
	src := read(t, dir, "machines/devnix/default.nix")
	if !strings.Contains(src, "../../programs/services/git-services.nix") {
		t.Fatalf("devnix does not import git-services.nix:\n%s", src)
	}
	os.WriteFile(p, []byte(strings.ReplaceAll(src, "../../programs/services/git-services.nix", "")), 0o644)
	list, err = List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list[0].Machines) != 0 {
		t.Errorf("machines = %v without any import of git-services.nix", list[0].Machines)
	}
}
