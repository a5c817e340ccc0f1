package target

import (
	"context"
	"fmt"
	"regexp"
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

// listScript prints `nix-env --list-generations` and then, after a
// separator, "N TARGET" for each generation link, in one round trip.
const listScript = `p="$1"
nix-env -p "$p" --list-generations || exit
echo "--"
for l in "$p"-*-link; do
  [ -L "$l" ] || continue
  n="${l#"$p"-}"; n="${n%-link}"
  echo "$n $(readlink "$l")"
done`

var genLineRE = regexp.MustCompile(`^\s*(\d+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*(\(current\))?\s*$`)

// ParseGenerations reads the output of listScript.
func ParseGenerations(out string) ([]Generation, error) {
	// A profile without generations prints nothing before the separator.
	list, links, _ := strings.Cut("\n"+out, "\n--\n")
	paths := map[int]string{}
	for _, l := range strings.Split(links, "\n") {
		n, p, ok := strings.Cut(strings.TrimSpace(l), " ")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil {
			paths[i] = p
		}
	}
	var gens []Generation
	for _, l := range strings.Split(list, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		m := genLineRE.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("unexpected line in nix-env --list-generations: %q", l)
		}
		n, _ := strconv.Atoi(m[1])
		date, _ := time.ParseInLocation("2006-01-02 15:04:05", m[2], time.Local)
		gens = append(gens, Generation{Number: n, Date: date, Path: paths[n], Current: m[3] != ""})
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
