package flakelock

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// ParseRef turns a flake reference as written in flake.nix
// ("github:NixOS/nixpkgs/nixos-unstable", "git+ssh://git@host/x.git?ref=main",
// "path:./x", "nixpkgs") into the attribute form nix records as "original"
// in flake.lock, so the two can be compared without running nix.
func ParseRef(s string) (map[string]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty flake reference")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return nil, fmt.Errorf("%q: a flake reference has no spaces", s)
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || s == "." {
		return withQuery(map[string]string{"type": "path"}, "path", s)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || strings.ContainsAny(scheme, "/?") {
		return parseIndirect(s)
	}
	switch scheme {
	case "flake":
		return parseIndirect(rest)
	case "github", "gitlab", "sourcehut":
		return parseForge(scheme, rest)
	case "path":
		return withQuery(map[string]string{"type": "path"}, "path", rest)
	}
	if kind, transport, ok := strings.Cut(scheme, "+"); ok {
		if err := needHost(transport + ":" + rest); err != nil {
			return nil, err
		}
		switch kind {
		case "git", "hg":
			return parseRepoURL(kind, transport+":"+rest)
		case "tarball", "file":
			return withQuery(map[string]string{"type": kind}, "url", transport+":"+rest)
		}
		return nil, fmt.Errorf("unsupported flake reference scheme %q", scheme)
	}
	switch scheme {
	case "http", "https", "file":
		if err := needHost(s); err != nil {
			return nil, err
		}
		if isArchive(rest) {
			return withQuery(map[string]string{"type": "tarball"}, "url", s)
		}
		if scheme == "file" {
			return withQuery(map[string]string{"type": "path"}, "path", strings.TrimPrefix(rest, "//"))
		}
		return withQuery(map[string]string{"type": "file"}, "url", s)
	}
	return nil, fmt.Errorf("unsupported flake reference scheme %q", scheme)
}

var revRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// flakeIDRE is what nix takes as a registry name (its flakeIdRegex).
var flakeIDRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)

// needHost refuses a network URL without a host ("https://", "ssh:///x"):
// nix cannot fetch it. file: URLs name a local path instead.
func needHost(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "file" && u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// refOrRev stores a trailing path component or query value under "rev"
// when it looks like a commit hash and under "ref" otherwise, as nix does.
func refOrRev(attrs map[string]string, v string) {
	if revRE.MatchString(v) {
		attrs["rev"] = v
	} else {
		attrs["ref"] = v
	}
}

func parseForge(kind, rest string) (map[string]string, error) {
	path, query, _ := strings.Cut(rest, "?")
	parts := strings.Split(path, "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("%s reference %q needs owner/repo", kind, kind+":"+rest)
	}
	attrs := map[string]string{"type": kind, "owner": parts[0], "repo": parts[1]}
	if len(parts) > 2 {
		refOrRev(attrs, strings.Join(parts[2:], "/"))
	}
	return addQuery(attrs, query)
}

func parseRepoURL(kind, u string) (map[string]string, error) {
	base, query, _ := strings.Cut(u, "?")
	attrs := map[string]string{"type": kind}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("bad query in %q: %w", u, err)
	}
	// Parameters nix understands become attributes; the others stay in the URL.
	keep := url.Values{}
	for k, vs := range q {
		switch k {
		case "ref", "rev", "dir", "shallow", "submodules", "allRefs", "narHash", "lastModified", "revCount":
			attrs[k] = vs[len(vs)-1]
		default:
			keep[k] = vs
		}
	}
	if len(keep) > 0 {
		base += "?" + keep.Encode()
	}
	attrs["url"] = base
	return attrs, nil
}

func parseIndirect(s string) (map[string]string, error) {
	path, query, _ := strings.Cut(s, "?")
	parts := strings.Split(path, "/")
	if parts[0] == "" || len(parts) > 3 {
		return nil, fmt.Errorf("bad flake reference %q", s)
	}
	if !flakeIDRE.MatchString(parts[0]) {
		return nil, fmt.Errorf("%q is not a flake reference: give a URL (github:owner/repo, git+https://…, path:./dir) or a registry name", s)
	}
	attrs := map[string]string{"type": "indirect", "id": parts[0]}
	for _, p := range parts[1:] {
		refOrRev(attrs, p)
	}
	return addQuery(attrs, query)
}

func withQuery(attrs map[string]string, key, v string) (map[string]string, error) {
	base, query, _ := strings.Cut(v, "?")
	attrs[key] = base
	return addQuery(attrs, query)
}

func addQuery(attrs map[string]string, query string) (map[string]string, error) {
	if query == "" {
		return attrs, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("bad query %q: %w", query, err)
	}
	for k, vs := range q {
		attrs[k] = vs[len(vs)-1]
	}
	return attrs, nil
}

func isArchive(p string) bool {
	for _, ext := range []string{".zip", ".tar", ".tgz", ".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst"} {
		if strings.HasSuffix(strings.SplitN(p, "?", 2)[0], ext) {
			return true
		}
	}
	return false
}

// SameSource reports whether a reference from flake.nix (in attribute form,
// as ParseRef returns or as written with `type = …;`) is the one a lock
// node was locked from. Values are compared as text because nix writes
// some of them as numbers or booleans.
func SameSource(want map[string]string, original map[string]any) bool {
	if original == nil {
		return false
	}
	for k, v := range want {
		if k == "path" {
			if !samePath(v, fmt.Sprint(original[k])) {
				return false
			}
			continue
		}
		if ov, ok := original[k]; !ok || fmt.Sprint(ov) != v {
			return false
		}
	}
	for k := range original {
		if _, ok := want[k]; !ok {
			return false
		}
	}
	return true
}

// samePath compares path inputs loosely: nix may record a relative path
// as written or resolved against the flake's directory.
func samePath(want, got string) bool {
	if want == got {
		return true
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(want, "./"), "/")
	return rel != "" && strings.HasSuffix(got, "/"+rel)
}

// URL renders an attribute-form reference (a lock node's "original") the
// way flake.nix writes it, for messages.
func URL(attrs map[string]any) string {
	get := func(k string) string {
		if v, ok := attrs[k]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	var base string
	var params []string
	skip := map[string]bool{"type": true}
	switch t := get("type"); t {
	case "github", "gitlab", "sourcehut":
		base = t + ":" + get("owner") + "/" + get("repo")
		if r := get("ref"); r != "" {
			base += "/" + r
		} else if r := get("rev"); r != "" {
			base += "/" + r
		}
		skip["owner"], skip["repo"], skip["ref"], skip["rev"] = true, true, true, true
	case "git", "hg":
		base = t + "+" + get("url")
		skip["url"] = true
	case "path":
		base = "path:" + get("path")
		skip["path"] = true
	case "tarball", "file":
		base = get("url")
		skip["url"] = true
	case "indirect":
		base = get("id")
		for _, k := range []string{"ref", "rev"} {
			if r := get(k); r != "" {
				base += "/" + r
			}
		}
		skip["id"], skip["ref"], skip["rev"] = true, true, true
	default:
		return FormatRef(attrs)
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		if !skip[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		params = append(params, k+"="+get(k))
	}
	if len(params) > 0 {
		base += "?" + strings.Join(params, "&")
	}
	return base
}

// FormatRef renders an attribute-form reference for messages.
func FormatRef(attrs map[string]any) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%v", k, attrs[k])
	}
	return b.String()
}
