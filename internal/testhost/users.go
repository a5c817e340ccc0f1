package testhost

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// writeEtc writes the host's own /etc files, bind-mounted over the real
// ones inside the host: hosts (so the host's name resolves, as sudo wants)
// and, with a deploy user, passwd, group, shadow and sudoers.
func writeEtc(dir, name string, opts Options) error {
	etc := filepath.Join(dir, "etc")
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return err
	}
	hosts = append(hosts, []byte(fmt.Sprintf("\n127.0.1.1 %s\n", name))...)
	if err := os.WriteFile(filepath.Join(etc, "hosts"), hosts, 0o644); err != nil {
		return err
	}
	if opts.DeployUser == "" {
		return nil
	}
	user := opts.DeployUser
	uid, err := freeID("/etc/passwd", 2000)
	if err != nil {
		return err
	}
	gid, err := freeID("/etc/group", uid)
	if err != nil {
		return err
	}
	hash := "*" // no password: key login only, and NOPASSWD sudo
	if opts.DeployPassword != "" {
		if hash, err = cryptSHA512(opts.DeployPassword); err != nil {
			return err
		}
	}
	home := filepath.Join(dir, "home", user)
	files := []struct {
		name, add string
		mode      os.FileMode
	}{
		{"passwd", fmt.Sprintf("%s:x:%d:%d:nixherd test deploy user:/home/%s:/bin/sh\n", user, uid, gid, user), 0o644},
		{"group", fmt.Sprintf("%s:x:%d:\n", user, gid), 0o644},
		{"shadow", fmt.Sprintf("%s:%s:19000:0:99999:7:::\n", user, hash), 0o640},
	}
	for _, f := range files {
		old, err := os.ReadFile(filepath.Join("/etc", f.name))
		if err != nil {
			return err
		}
		if len(old) > 0 && old[len(old)-1] != '\n' {
			old = append(old, '\n')
		}
		if err := os.WriteFile(filepath.Join(etc, f.name), append(old, f.add...), f.mode); err != nil {
			return err
		}
	}
	rule := "ALL=(ALL:ALL) NOPASSWD: ALL"
	if opts.DeployPassword != "" {
		rule = "ALL=(ALL:ALL) ALL"
	}
	sudoers := fmt.Sprintf("# nixherd test host\nDefaults env_reset\nDefaults secure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\nroot ALL=(ALL:ALL) ALL\n%s %s\n", user, rule)
	if err := os.WriteFile(filepath.Join(etc, "sudoers"), []byte(sudoers), 0o440); err != nil {
		return err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if err := os.Chown(home, uid, gid); err != nil {
		return err
	}
	// The host runs a nix-daemon: a non-root user reaches the store
	// through it.
	return os.WriteFile(filepath.Join(dir, "nix-daemon"), nil, 0o644)
}

// freeID returns the first id from min on that no entry of the real
// passwd or group file uses.
func freeID(file string, min int) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	used := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Split(sc.Text(), ":"); len(fs) > 2 {
			if id, err := strconv.Atoi(fs[2]); err == nil {
				used[id] = true
			}
		}
	}
	id := min
	for used[id] {
		id++
	}
	return id, sc.Err()
}

// cryptSHA512 hashes a password for /etc/shadow with glibc's crypt (through
// perl, which Debian always has), fed on stdin so it is never in argv.
func cryptSHA512(password string) (string, error) {
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	s := strings.NewReplacer("+", ".", "=", "").Replace(base64.StdEncoding.EncodeToString(salt))
	cmd := exec.Command("perl", "-e", `my $p = <STDIN>; chomp $p; print crypt($p, '$6$' . $ARGV[0] . '$')`, s)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "$6$") {
		return "", fmt.Errorf("hashing the deploy user's password with perl crypt: %v (%q)", err, out)
	}
	return string(out), nil
}
