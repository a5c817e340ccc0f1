package secrets

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

// The agenix modules decrypt with the age CLI at activation, so files must
// round-trip with the real age in both directions, for every key type and
// both encodings.
func TestInteropWithAgeCLI(t *testing.T) {
	ageBin := testenv.NeedTool(t, "age")
	ks := testKeys(t)
	for _, kind := range []string{"ed25519", "rsa2048", "rsa4096", "x25519"} {
		for _, armored := range []bool{false, true} {
			k := ks[kind]
			t.Run(fmt.Sprintf("%s/armor=%v", kind, armored), func(t *testing.T) {
				rules := rulesFleet(t, fmt.Sprintf(`{ "s.age" = { publicKeys = [ %q ]; armor = %v; }; }`, k.Public, armored))
				rs := mustLoad(t, rules)
				r := mustRule(t, rs, "s")
				secret := []byte(fmt.Sprintf("secret for %s\n\x00binary\xff", kind))

				// nixherd encrypts, age decrypts.
				if err := rs.Encrypt(r, secret); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(ageBin, "-d", "-i", k.Private, rs.PathOf(r)).Output()
				if err != nil {
					t.Fatalf("age -d: %v: %s", err, stderrOf(err))
				}
				if !bytes.Equal(out, secret) {
					t.Fatalf("age decrypted %q, want %q", out, secret)
				}
				hdr, err := ReadHeader(bytes.NewReader(readFile(t, rs.PathOf(r))))
				if err != nil || hdr.Armored != armored {
					t.Fatalf("header of our file: %+v, %v", hdr, err)
				}

				// age encrypts, nixherd decrypts.
				recFile := filepath.Join(t.TempDir(), "recipient")
				os.WriteFile(recFile, []byte(k.Public+"\n"), 0o600)
				args := []string{"-R", recFile, "-o", rs.PathOf(r)}
				if armored {
					args = append(args, "-a")
				}
				cmd := exec.Command(ageBin, args...)
				cmd.Stdin = bytes.NewReader(secret)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("age -e: %v: %s", err, out)
				}
				got, err := rs.Decrypt(r, mustIDs(t, k.Private))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, secret) {
					t.Fatalf("nixherd decrypted %q, want %q", got, secret)
				}
				// The offline audit reads age's header: SSH keys by their
				// tags match the rules. An age key leaves no trace in the
				// file, so age's file needs a rekey (which says why), after
				// which nixherd's manifest knows and age still decrypts.
				m, _ := rs.readManifest()
				e := rs.auditRule(r, m)
				if kind != "x25519" && e.Status != StatusOK {
					t.Fatalf("audit of age's file: %s %v", e.Status, e.Problems)
				}
				if kind == "x25519" {
					if e.Status != StatusNeedsRekey || !strings.Contains(strings.Join(e.Problems, ";"), "cannot be known") {
						t.Fatalf("audit of age's file to an age key: %s %v, want needs rekey: cannot be known", e.Status, e.Problems)
					}
					res, err := rs.Rekey(nil, mustIDs(t, k.Private), false)
					if err != nil || len(res.Rekeyed) != 1 {
						t.Fatalf("rekey: %+v, %v", res, err)
					}
					m, _ = rs.readManifest()
					if e := rs.auditRule(r, m); e.Status != StatusOK {
						t.Fatalf("after rekey: %s %v", e.Status, e.Problems)
					}
					if out, err := exec.Command(ageBin, "-d", "-i", k.Private, rs.PathOf(r)).Output(); err != nil || !bytes.Equal(out, secret) {
						t.Fatalf("age -d after rekey: %q, %v", out, err)
					}
				}
			})
		}
	}
}

// A file the age CLI encrypted to several keys of every kind lists each SSH
// key by the same tag nixherd computes from secrets.nix.
func TestHeaderTagsMatchAgeCLI(t *testing.T) {
	ageBin := testenv.NeedTool(t, "age")
	ks := testKeys(t)
	recFile := filepath.Join(t.TempDir(), "recipients")
	var list bytes.Buffer
	for _, kind := range []string{"ed25519", "rsa2048", "rsa4096", "x25519"} {
		list.WriteString(ks[kind].Public + "\n")
	}
	os.WriteFile(recFile, list.Bytes(), 0o600)
	cmd := exec.Command(ageBin, "-R", recFile)
	cmd.Stdin = bytes.NewReader([]byte("x"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := ReadHeader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, kind := range []string{"ed25519", "rsa2048", "rsa4096"} {
		r, err := ParseRecipient(ks[kind].Public)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.stanzaID())
	}
	if got := hdr.SSHTags(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SSH tags %v, want %v", got, want)
	}
	if n := hdr.Count(StanzaX25519); n != 1 {
		t.Errorf("%d X25519 stanzas, want 1", n)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
