package check

import (
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/flakelock"
	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/nixlang"
)

// checkLock compares flake.nix's inputs with flake.lock, the way nix would
// on the next build, so that a forgotten `nix flake update` after editing an
// input is found before a deploy builds something old.
func checkLock(f *fleet.Fleet) []Finding {
	flakeNix := nixlang.Position{File: "flake.nix"}
	if f.LockErr != nil {
		return []Finding{at(nixlang.Position{File: "flake.lock"}, Error, f.LockErr.Error())}
	}
	if f.Lock == nil {
		if len(f.Inputs) == 0 {
			return nil
		}
		return []Finding{at(flakeNix, Warning, "no flake.lock: inputs are not pinned; run nixherd update")}
	}
	var out []Finding
	declared := map[string]bool{}
	for _, in := range f.Inputs {
		declared[in.Name] = true
		ref, node, ok := f.Lock.Input(in.Name)
		switch {
		case !ok:
			out = append(out, at(in.Pos, Error, fmt.Sprintf("input %s is not in flake.lock; run nixherd update %s", in.Name, in.Name)))
			continue
		case in.Follows != "":
			want := strings.Split(in.Follows, "/")
			if !ref.IsFollows() || strings.Join(ref.Follows, "/") != strings.Join(want, "/") {
				out = append(out, at(in.Pos, Error, fmt.Sprintf("input %s follows %s in flake.nix but flake.lock has %s; run nixherd update %s", in.Name, in.Follows, describeRef(ref), in.Name)))
			}
			continue
		case ref.IsFollows():
			out = append(out, at(in.Pos, Error, fmt.Sprintf("input %s is locked as following %s, which flake.nix no longer says; run nixherd update %s", in.Name, ref, in.Name)))
			continue
		case node == nil:
			out = append(out, at(in.Pos, Error, fmt.Sprintf("flake.lock points input %s at node %q, which it does not contain; run nixherd update %s", in.Name, ref.Node, in.Name)))
			continue
		}
		if in.Attrs != nil && !flakelock.SameSource(in.Attrs, node.Original) {
			wrote := in.URL
			if wrote == "" {
				wrote = flakelock.FormatRef(toAny(in.Attrs))
			}
			out = append(out, at(in.URLPos, Error, fmt.Sprintf("input %s is %s in flake.nix but flake.lock locked it from %s; run nixherd update %s", in.Name, wrote, flakelock.URL(node.Original), in.Name)))
		}
		if in.Flake != node.Flake {
			out = append(out, at(in.Pos, Error, fmt.Sprintf("input %s is flake = %t in flake.nix but flake.lock has flake = %t; run nixherd update %s", in.Name, in.Flake, node.Flake, in.Name)))
		}
		for _, nf := range in.InputFollows {
			got, ok := node.Inputs[nf.Input]
			if !ok || strings.Join(got.Follows, "/") != nf.Follows || !got.IsFollows() {
				out = append(out, at(nf.Pos, Error, fmt.Sprintf("%s.inputs.%s follows %s in flake.nix but flake.lock has %s; run nixherd update %s", in.Name, nf.Input, nf.Follows, describeRef(got), in.Name)))
			}
		}
	}
	for _, name := range f.Lock.RootInputs() {
		if !declared[name] {
			out = append(out, at(nixlang.Position{File: "flake.lock"}, Warning, fmt.Sprintf("flake.lock still locks input %s, which flake.nix no longer declares; run nixherd update", name)))
		}
	}
	return out
}

func describeRef(r flakelock.Ref) string {
	switch {
	case r.IsFollows():
		return "it following " + r.String()
	case r.Node == "":
		return "nothing"
	default:
		return "its own lock"
	}
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
