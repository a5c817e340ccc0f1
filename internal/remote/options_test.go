package remote

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

// unsafeCases are ssh argument lists a fleet file might carry: each is
// unsafe (want a reason) or safe (want ""), in the spellings ssh accepts.
var unsafeCases = []struct {
	args []string
	want string
}{
	{[]string{"-o", "StrictHostKeyChecking=no"}, reasonHostKeys},
	{[]string{"-oStrictHostKeyChecking=no"}, reasonHostKeys},
	{[]string{"-o", "stricthostkeychecking no"}, reasonHostKeys},
	{[]string{"-o", "STRICTHOSTKEYCHECKING=off"}, reasonHostKeys},
	{[]string{"-o", "StrictHostKeyChecking = accept-new"}, reasonHostKeys},
	{[]string{"-o", "=StrictHostKeyChecking=no"}, reasonHostKeys},
	{[]string{"-o", `Strict"HostKey"Checking no`}, reasonHostKeys},
	{[]string{"-o", `"StrictHostKeyChecking" no`}, reasonHostKeys},
	{[]string{"-o", "StrictHostKeyChecking\tno"}, reasonHostKeys},
	{[]string{"-o", "UserKnownHostsFile=/dev/null"}, reasonHostKeys},
	{[]string{"-o", "GlobalKnownHostsFile /dev/null"}, reasonHostKeys},
	{[]string{"-o", "NoHostAuthenticationForLocalhost=yes"}, reasonHostKeys},
	{[]string{"-o", "VerifyHostKeyDNS=yes"}, reasonHostKeys},
	{[]string{"-o", "HostKeyAlias=other"}, reasonHostKeys},
	{[]string{"-o", "RevokedHostKeys=/dev/null"}, reasonHostKeys},
	{[]string{"-o", "ProxyCommand=nc %h %p"}, reasonRuns},
	{[]string{"-o", `proxycommand="nc %h %p"`}, reasonRuns},
	{[]string{"-o", "LocalCommand=touch /tmp/x"}, reasonRuns},
	{[]string{"-o", "PermitLocalCommand=yes"}, reasonRuns},
	{[]string{"-o", "KnownHostsCommand=/bin/echo"}, reasonRuns},
	{[]string{"-o", "XAuthLocation=/tmp/x"}, reasonRuns},
	{[]string{"-o", "PKCS11Provider=/tmp/x.so"}, reasonLoads},
	{[]string{"-o", "SecurityKeyProvider /tmp/x.so"}, reasonLoads},
	{[]string{"-I", "/tmp/x.so"}, reasonLoads},
	{[]string{"-A"}, reasonHandsOver},
	{[]string{"-4A"}, reasonHandsOver},
	{[]string{"-vX"}, reasonHandsOver},
	{[]string{"-o", "ForwardAgent=yes"}, reasonHandsOver},
	{[]string{"-o", "ForwardX11 yes"}, reasonHandsOver},
	{[]string{"-o", "SendEnv=*"}, reasonHandsOver},
	{[]string{"-R", "8080:localhost:80"}, reasonHandsOver},
	{[]string{"-o", "RemoteForward 8080 localhost:80"}, reasonHandsOver},
	{[]string{"-o", "ControlPath=/tmp/elsewhere"}, reasonConnection},
	{[]string{"-o", "ControlMaster=auto"}, reasonConnection},
	{[]string{"-S", "/tmp/elsewhere"}, reasonConnection},
	{[]string{"-o", "RequestTTY=force"}, reasonChanges},
	{[]string{"-o", "StdinNull=yes"}, reasonChanges},
	{[]string{"-G"}, reasonChanges},
	{[]string{"-n"}, reasonChanges},
	{[]string{"-F", "ssh.conf"}, reasonConfig},
	{[]string{"-Fssh.conf"}, reasonConfig},
	{[]string{"-E", "/home/me/.bashrc"}, reasonWrites},
	{[]string{"-o", "Include /tmp/x"}, reasonConfigOnly},
	{[]string{"-o", "Match exec true"}, reasonConfigOnly},
	{[]string{"-J", "-oProxyCommand=x"}, reasonNotOption},
	{[]string{"-o", "ProxyJump=ok,-oProxyCommand=x"}, reasonNotOption},
	{[]string{"bastion"}, reasonNotOption},
	{[]string{"--"}, reasonNotOption},
	{[]string{"-o", `"StrictHostKeyChecking no"`}, reasonUnknown},
	{[]string{"-Z"}, reasonUnknown},
	{[]string{"-o"}, "needs a value"},

	{[]string{"-o", "ConnectTimeout=5"}, ""},
	{[]string{"-o", "StrictHostKeyChecking=yes"}, ""},
	{[]string{"-o", "StrictHostKeyChecking \"yes\""}, ""},
	{[]string{"-o", "ForwardAgent=no"}, ""},
	{[]string{"-o", "ProxyJump=bastion"}, ""},
	{[]string{"-J", "me@bastion:2222"}, ""},
	{[]string{"-o", "IdentitiesOnly=yes", "-o", "User=deploy", "-o", "ServerAliveInterval 5"}, ""},
	{[]string{"-p", "2222", "-i", "/home/me/.ssh/deploy", "-l", "deploy"}, ""},
	{[]string{"-p2222", "-4Cv", "-q"}, ""},
}

func TestUnsafeOptions(t *testing.T) {
	for _, tc := range unsafeCases {
		got := UnsafeOptions(tc.args)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%q: refused as %v", tc.args, got)
		case tc.want != "" && (len(got) != 1 || got[0].Reason != tc.want):
			t.Errorf("%q: got %v, want one %q", tc.args, got, tc.want)
		}
	}
	got := UnsafeOptions([]string{"-o", "ConnectTimeout=5", "-F", "x", "-o", "ProxyCommand=y"})
	if len(got) != 2 || got[0].Index != 3 || got[0].Arg != "-F x" || got[1].Index != 5 || got[1].Arg != "-o ProxyCommand=y" {
		t.Errorf("positions: %+v", got)
	}
}

// guardedSettings are what the unsafe options change, as `ssh -G` prints
// the configuration it would use.
var guardedSettings = []string{
	"stricthostkeychecking", "userknownhostsfile", "globalknownhostsfile", "nohostauthenticationforlocalhost",
	"verifyhostkeydns", "hostkeyalias", "revokedhostkeys", "proxycommand", "localcommand", "permitlocalcommand",
	"knownhostscommand", "xauthlocation", "pkcs11provider", "securitykeyprovider", "forwardagent", "forwardx11",
	"forwardx11trusted", "gssapidelegatecredentials", "sendenv", "remoteforward", "localforward", "dynamicforward",
	"controlpath", "controlmaster", "controlpersist", "requesttty", "stdinnull", "proxyjump",
}

// TestUnsafeOptionsAgreeWithSSH asks ssh itself (-G prints the
// configuration it would use, without connecting) how it reads each case:
// every case that changes a guarded setting is refused, and every safe
// case is one ssh accepts.
func TestUnsafeOptionsAgreeWithSSH(t *testing.T) {
	testenv.NeedTool(t, "ssh")
	config := func(args []string) (map[string]string, error) {
		argv := append(append([]string{"-G", "-F", "/dev/null"}, args...), "--", "example.invalid")
		out, err := exec.Command("ssh", argv...).Output()
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, l := range strings.Split(string(out), "\n") {
			k, v, _ := strings.Cut(l, " ")
			m[k] += v + "\n"
		}
		return m, nil
	}
	base, err := config(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range unsafeCases {
		if tc.want == reasonConfig || tc.want == reasonNotOption || tc.want == reasonChanges && tc.args[0] == "-G" {
			continue // -F, a destination and -G change what -G itself does
		}
		got, err := config(tc.args)
		if err != nil {
			if tc.want == "" {
				t.Errorf("%q: ssh rejects a case we call safe: %v", tc.args, err)
			}
			continue
		}
		var changed []string
		for _, k := range guardedSettings {
			if got[k] != base[k] && !(tc.want == "" && (k == "proxyjump" || stricter(k, got[k]))) {
				changed = append(changed, k)
			}
		}
		if len(changed) > 0 && tc.want == "" {
			t.Errorf("%q changes %v in ssh, but is not refused", tc.args, changed)
		}
		if len(changed) == 0 && tc.want == reasonHostKeys {
			t.Errorf("%q: ssh changes no host key setting; the case tests nothing", tc.args)
		}
	}
}

// stricter reports whether ssh -G's value of setting k is one that only
// tightens ssh (StrictHostKeyChecking yes prints as "true").
func stricter(k, v string) bool {
	for _, ok := range safeValues[k] {
		if strings.TrimSpace(v) == ok {
			return true
		}
	}
	return false
}
