package target

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/remote"
)

// Generation is one numbered generation of a profile.
type Generation struct {
	Number  int       `json:"number"`
	Date    time.Time `json:"date"`
	Path    string    `json:"path"`
	Current bool      `json:"current"`
}

// listScript prints the profile's current link ("current NAME") and then
// "N MTIME TARGET" for each generation link, in one round trip. It reads
// the links itself rather than running `nix-env --list-generations`, which
// takes the profile's lock: a non-root deploy user may read the system
// profile but not open its root-owned lock file. The date nix-env shows is
// the link's own mtime, which stat reads (GNU stat -c, else BSD stat -f).
const listScript = `p="$1"
echo "current $(readlink "$p" 2>/dev/null)"
for l in "$p"-*-link; do
  [ -L "$l" ] || continue
  n="${l#"$p"-}"; n="${n%-link}"
  t=$(stat -c %Y "$l" 2>/dev/null || stat -f %m "$l") || exit
  echo "$n $t $(readlink "$l")"
done`

// ParseGenerations reads the output of listScript, oldest first.
func ParseGenerations(out string) ([]Generation, error) {
	current := ""
	var gens []Generation
	seen := map[int]bool{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if f[0] == "current" {
			if len(f) > 1 {
				current = f[1][strings.LastIndex(f[1], "/")+1:]
			}
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("unexpected line in the generation list: %.120q", l)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 {
			// Another profile's link that the glob matched (system-x-1-link).
			continue
		}
		secs, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected line in the generation list: %.120q", l)
		}
		if seen[n] {
			return nil, fmt.Errorf("generation %d is listed twice", n)
		}
		seen[n] = true
		gens = append(gens, Generation{Number: n, Date: time.Unix(secs, 0), Path: f[2]})
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
	for i := range gens {
		gens[i].Current = current != "" && strings.HasSuffix(current, "-"+strconv.Itoa(gens[i].Number)+"-link")
	}
	return gens, nil
}

// Generations lists the generations of profile on the host, oldest first.
func Generations(ctx context.Context, r remote.Runner, profile string) ([]Generation, error) {
	out, err := r.Run(ctx, remote.Sh(listScript, profile))
	if err != nil {
		return nil, fmt.Errorf("listing generations of %s: %w", profile, err)
	}
	return ParseGenerations(string(out))
}

// Current returns the generation profile points at (Number 0 when the
// profile does not exist yet).
func Current(ctx context.Context, r remote.Runner, profile string) (Generation, error) {
	out, err := r.Run(ctx, remote.Sh(`l=$(readlink "$1") || exit 0; echo "$l"; readlink -f "$1"`, profile))
	if err != nil {
		return Generation{}, err
	}
	lines := strings.Fields(string(out))
	if len(lines) < 2 {
		return Generation{}, nil
	}
	g := Generation{Path: lines[1], Current: true}
	link := lines[0][strings.LastIndex(lines[0], "/")+1:]
	if m := regexp.MustCompile(`-(\d+)-link$`).FindStringSubmatch(link); m != nil {
		g.Number, _ = strconv.Atoi(m[1])
	}
	return g, nil
}

// State reads, in one round trip, the generation profile points at and the
// configuration the machine runs now (/run/current-system, resolved; "" when
// there is none).
func State(ctx context.Context, r remote.Runner, profile string) (Generation, string, error) {
	out, err := r.Run(ctx, remote.Sh(StateScript, profile))
	if err != nil {
		return Generation{}, "", fmt.Errorf("reading %s and /run/current-system: %w", profile, err)
	}
	lines := strings.Split(string(out), "\n")
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	return CurrentOf(lines[0], lines[1]), strings.TrimSpace(lines[2]), nil
}

// StateScript prints what State reads (the profile's link, where it
// resolves, the running system), for callers that read it within a larger
// script of their own: $1 is the profile.
const StateScript = `if l=$(readlink "$1"); then echo "$l"; readlink -f "$1"; else echo; echo; fi
readlink -f /run/current-system 2>/dev/null || echo`

// CurrentOf is the generation a profile link (system-7-link) that resolves
// to path names; the zero Generation when link is empty.
func CurrentOf(link, path string) Generation {
	link, path = strings.TrimSpace(link), strings.TrimSpace(path)
	if link == "" {
		return Generation{}
	}
	g := Generation{Path: path, Current: true}
	if m := regexp.MustCompile(`-(\d+)-link$`).FindStringSubmatch(link[strings.LastIndex(link, "/")+1:]); m != nil {
		g.Number, _ = strconv.Atoi(m[1])
	}
	return g
}

// SwitchGeneration points profile at generation n (or the previous one when
// n is 0) and returns the generation it now points at. The caller activates
// its Path with the executor's Activate.
func SwitchGeneration(ctx context.Context, r remote.Runner, profile string, n int, root bool) (Generation, error) {
	c := remote.Cmd("nix-env", "-p", profile, "--rollback")
	if n > 0 {
		c = remote.Cmd("nix-env", "-p", profile, "--switch-generation", strconv.Itoa(n))
	}
	c.Root = root
	if _, err := r.Run(ctx, c); err != nil {
		return Generation{}, fmt.Errorf("switching %s to generation %s: %w", profile, genName(n), err)
	}
	return Current(ctx, r, profile)
}

func genName(n int) string {
	if n == 0 {
		return "previous"
	}
	return strconv.Itoa(n)
}
