package testhost

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// A network-namespace host lives behind a veth pair whose two ends share a
// /30 of link-local addresses (169.254.100.0–169.254.159.255, never
// 169.254.169.x). The addresses exist only on these veths, so traffic to the
// host never leaves this machine; an "unreachable" route for the /30 with a
// high metric makes sure it cannot fall back to the default route while the
// link is down.
const maxNetNS = 64 * 60

type netns struct {
	name     string // ip netns name
	outer    string // veth end in the caller's namespace
	inner    string // veth end inside the host's namespace
	subnet   string // a.b.c.d/30
	outerIP  string
	hostAddr string // the host's address, on inner
}

func netnsFor(i int) *netns {
	base := fmt.Sprintf("169.254.%d.%d", 100+i/64, (i%64)*4)
	pre := base[:strings.LastIndex(base, ".")+1]
	last := (i % 64) * 4
	return &netns{
		name:     fmt.Sprintf("nixherd-th%d", i),
		outer:    fmt.Sprintf("nhth%da", i),
		inner:    fmt.Sprintf("nhth%db", i),
		subnet:   base + "/30",
		outerIP:  fmt.Sprintf("%s%d", pre, last+1),
		hostAddr: fmt.Sprintf("%s%d", pre, last+2),
	}
}

func (n *netns) path() string { return "/run/netns/" + n.name }

// netnsFree is called with index i leased: a namespace or veth still there
// was left by a run that was killed before its cleanup, and is removed.
func netnsFree(i int) bool {
	n := netnsFor(i)
	if _, err := os.Stat(n.path()); err == nil {
		n.remove()
	} else if ipQuiet("link", "show", n.outer) == nil {
		n.remove()
	}
	return true
}

func newNetns(i int) (*netns, error) {
	n := netnsFor(i)
	steps := [][]string{
		{"netns", "add", n.name},
		{"link", "add", n.outer, "type", "veth", "peer", "name", n.inner, "netns", n.name},
		{"addr", "add", n.outerIP + "/30", "dev", n.outer},
		{"route", "add", "unreachable", n.subnet, "metric", "4000"},
		{"link", "set", n.outer, "up"},
		{"-n", n.name, "addr", "add", n.hostAddr + "/30", "dev", n.inner},
		{"-n", n.name, "link", "set", n.inner, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.remove()
			return nil, err
		}
	}
	return n, nil
}

// remove deletes the veth pair, the fallback route and the namespace.
func (n *netns) remove() error {
	var errs []error
	if ipQuiet("link", "show", n.outer) == nil {
		errs = append(errs, ip("link", "del", n.outer))
	}
	ipQuiet("route", "del", "unreachable", n.subnet, "metric", "4000")
	if _, err := os.Stat(n.path()); err == nil {
		errs = append(errs, ip("netns", "del", n.name))
	}
	return errors.Join(errs...)
}

func ip(args ...string) error {
	bin, err := lookSbin("ip")
	if err != nil {
		return err
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func ipQuiet(args ...string) error {
	bin, err := lookSbin("ip")
	if err != nil {
		return err
	}
	return exec.Command(bin, args...).Run()
}

// Cut takes the host's network link down, as a pulled cable would: packets
// to and from it are dropped, established connections hang. Only for hosts
// started with Options.NetNS.
func (h *Host) Cut() error {
	if h.netns == nil {
		return fmt.Errorf("host %s has no network namespace (start it with Options.NetNS)", h.Name)
	}
	return ip("-n", h.netns.name, "link", "set", h.netns.inner, "down")
}

// Restore brings the host's network link back up after Cut.
func (h *Host) Restore() error {
	if h.netns == nil {
		return fmt.Errorf("host %s has no network namespace (start it with Options.NetNS)", h.Name)
	}
	return ip("-n", h.netns.name, "link", "set", h.netns.inner, "up")
}

// NetNS is the name of the host's network namespace (for `ip netns exec`),
// "" for loopback hosts.
func (h *Host) NetNS() string {
	if h.netns == nil {
		return ""
	}
	return h.netns.name
}

// Gateway is this machine's address on the host's link (the other end of
// its veth pair): where a server the host must reach listens. For loopback
// hosts it is 127.0.0.1, which they share with this machine.
func (h *Host) Gateway() string {
	if h.netns == nil {
		return "127.0.0.1"
	}
	return h.netns.outerIP
}
