package remote

import (
	"strings"
)

// UnsafeOption is an ssh argument that must not come from a fleet's files
// unless the user allows it: one that weakens host key checking, runs a
// program or loads a library on the deploying machine, hands the host
// something of the deploying machine (its agent, credentials, network or
// environment), takes over nixherd's own connection handling, or changes
// what ssh does with nixherd's commands. A repository others push to must
// not be able to turn any of that on for the person who deploys from it.
type UnsafeOption struct {
	// Arg is the argument as written ("-o StrictHostKeyChecking=no").
	Arg string
	// Index is the position in the list of the element that holds it:
	// the value, for a flag whose value is the next element.
	Index int
	// Reason says what it does, as a phrase ("weakens host key checking").
	Reason string
}

func (u UnsafeOption) String() string { return u.Arg + " " + u.Reason }

// What an unsafe option does.
const (
	reasonHostKeys   = "weakens host key checking"
	reasonRuns       = "runs a program on this machine"
	reasonLoads      = "loads a library into ssh on this machine"
	reasonHandsOver  = "gives the host access to this machine (agent, credentials, X11, forwarded ports or environment)"
	reasonConnection = "takes over nixherd's own connection handling"
	reasonChanges    = "changes what ssh does with nixherd's commands"
	reasonConfig     = "reads an ssh configuration file, which can set any option"
	reasonWrites     = "makes ssh write a file on this machine"
	reasonConfigOnly = "is valid only in an ssh configuration file"
	reasonNotOption  = "is not an ssh option (a word here would become the destination or the command)"
	reasonUnknown    = "is not an ssh option nixherd can read"
)

// unsafeFlags are ssh's single-letter flags by what they do; a flag of
// ssh's that is not here (-4, -6, -C, -i, -J, -l, -p, -v ...) is safe.
var unsafeFlags = map[byte]string{
	'A': reasonHandsOver, 'X': reasonHandsOver, 'Y': reasonHandsOver, 'K': reasonHandsOver,
	'g': reasonHandsOver, 'D': reasonHandsOver, 'L': reasonHandsOver, 'R': reasonHandsOver, 'w': reasonHandsOver,
	'I': reasonLoads,
	'E': reasonWrites,
	'F': reasonConfig,
	'M': reasonConnection, 'S': reasonConnection,
	'f': reasonChanges, 'G': reasonChanges, 'N': reasonChanges, 'n': reasonChanges, 'O': reasonChanges,
	'Q': reasonChanges, 's': reasonChanges, 't': reasonChanges, 'V': reasonChanges, 'W': reasonChanges,
}

// sshFlags are every flag ssh's getopt knows (OpenSSH 9: "1246ab:c:e:fgi:
// kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy").
const sshFlags = "1246abcefgiklmnopqstvxABCDEFGIJKLMNOPQRSTVwWXYy"

// unsafeKeys are ssh_config keywords (lower case, as ssh compares them) by
// what they do. Any other keyword ending in "command" runs a program and
// any ending in "provider" loads a library (unsafeKey).
var unsafeKeys = map[string]string{
	"stricthostkeychecking":            reasonHostKeys,
	"userknownhostsfile":               reasonHostKeys,
	"globalknownhostsfile":             reasonHostKeys,
	"revokedhostkeys":                  reasonHostKeys,
	"hostkeyalias":                     reasonHostKeys,
	"nohostauthenticationforlocalhost": reasonHostKeys,
	"verifyhostkeydns":                 reasonHostKeys,
	"permitlocalcommand":               reasonRuns,
	"xauthlocation":                    reasonRuns,
	"forwardagent":                     reasonHandsOver,
	"forwardx11":                       reasonHandsOver,
	"forwardx11trusted":                reasonHandsOver,
	"gssapidelegatecredentials":        reasonHandsOver,
	"enablesshkeysign":                 reasonHandsOver,
	"hostbasedauthentication":          reasonHandsOver,
	"localforward":                     reasonHandsOver,
	"remoteforward":                    reasonHandsOver,
	"dynamicforward":                   reasonHandsOver,
	"gatewayports":                     reasonHandsOver,
	"permitremoteopen":                 reasonHandsOver,
	"tunnel":                           reasonHandsOver,
	"tunneldevice":                     reasonHandsOver,
	"sendenv":                          reasonHandsOver,
	"controlmaster":                    reasonConnection,
	"controlpath":                      reasonConnection,
	"controlpersist":                   reasonConnection,
	"requesttty":                       reasonChanges,
	"sessiontype":                      reasonChanges,
	"stdinnull":                        reasonChanges,
	"forkafterauthentication":          reasonChanges,
	"remotecommand":                    reasonChanges,
	"host":                             reasonConfigOnly,
	"match":                            reasonConfigOnly,
	"include":                          reasonConfigOnly,
}

// safeValues are the values of unsafe keywords that only make ssh stricter
// or keep its default (ssh accepts yes/true and no/false alike).
var safeValues = map[string][]string{
	"stricthostkeychecking":            {"yes", "true"},
	"nohostauthenticationforlocalhost": {"no", "false"},
	"verifyhostkeydns":                 {"no", "false"},
	"permitlocalcommand":               {"no", "false"},
	"forwardagent":                     {"no", "false"},
	"forwardx11":                       {"no", "false"},
	"forwardx11trusted":                {"no", "false"},
	"gssapidelegatecredentials":        {"no", "false"},
	"enablesshkeysign":                 {"no", "false"},
	"hostbasedauthentication":          {"no", "false"},
	"tunnel":                           {"no", "false"},
	"stdinnull":                        {"no", "false"},
	"forkafterauthentication":          {"no", "false"},
}

// UnsafeOptions reads a list of ssh arguments as ssh's getopt does (flags
// may be grouped, "-ovalue" and "-o value" alike) and returns those that
// are unsafe, in order. A -o option is read as ssh reads a configuration
// line: keyword and value separated by spaces or one "=", the keyword in
// any case and with any quotes removed.
func UnsafeOptions(args []string) []UnsafeOption {
	var out []UnsafeOption
	for i := 0; i < len(args); i++ {
		start, a := i, args[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			out = append(out, UnsafeOption{Arg: a, Index: i, Reason: reasonNotOption})
			continue
		}
		for j := 1; j < len(a); j++ {
			flag := a[j]
			if !strings.ContainsRune(sshFlags, rune(flag)) {
				out = append(out, UnsafeOption{Arg: a, Index: start, Reason: reasonUnknown})
				break
			}
			if !flagTakesValue("-" + string(flag)) {
				if r, bad := unsafeFlags[flag]; bad {
					out = append(out, UnsafeOption{Arg: "-" + string(flag), Index: start, Reason: r})
				}
				continue
			}
			// The rest of the word is the value, or else the next word.
			value, shown := a[j+1:], "-"+string(flag)+a[j+1:]
			if value == "" {
				if i+1 >= len(args) {
					out = append(out, UnsafeOption{Arg: a, Index: start, Reason: "needs a value"})
					break
				}
				i++
				value, shown = args[i], "-"+string(flag)+" "+args[i]
			}
			if r := unsafeFlagValue(flag, value); r != "" {
				out = append(out, UnsafeOption{Arg: shown, Index: i, Reason: r})
			}
			break
		}
	}
	return out
}

// unsafeFlagValue is why a flag with value is unsafe, or "".
func unsafeFlagValue(flag byte, value string) string {
	switch flag {
	case 'o':
		return unsafeConfigLine(value)
	case 'J':
		return unsafeJump(value)
	}
	return unsafeFlags[flag]
}

// unsafeConfigLine is why an ssh_config line given with -o is unsafe, or "".
func unsafeConfigLine(line string) string {
	key, value := splitConfigLine(line)
	if key == "" || strings.Trim(key, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return reasonUnknown
	}
	r := unsafeKey(key)
	if r == "" {
		if key == "proxyjump" {
			return unsafeJump(value)
		}
		return ""
	}
	for _, ok := range safeValues[key] {
		if strings.ToLower(value) == ok {
			return ""
		}
	}
	return r
}

func unsafeKey(key string) string {
	if r, ok := unsafeKeys[key]; ok {
		return r
	}
	switch {
	case strings.HasSuffix(key, "command"):
		return reasonRuns
	case strings.HasSuffix(key, "provider"):
		return reasonLoads
	}
	return ""
}

// unsafeJump refuses a jump host list with an entry that ssh would read
// as an option.
func unsafeJump(value string) string {
	for _, h := range strings.Split(value, ",") {
		if strings.HasPrefix(strings.TrimSpace(h), "-") {
			return reasonNotOption
		}
	}
	return ""
}

// splitConfigLine splits an ssh_config line into its keyword (lower case)
// and the first word of its value, the way ssh's tokenizer does: leading
// blanks and "=" skipped, quotes removed, the keyword ended by a blank or
// "=", then blanks and at most one "=" before the value.
func splitConfigLine(line string) (key, value string) {
	rest := strings.TrimLeft(line, " \t=")
	key, rest = configWord(rest, true)
	rest = strings.TrimLeft(rest, " \t")
	rest = strings.TrimPrefix(rest, "=")
	rest = strings.TrimLeft(rest, " \t")
	value, _ = configWord(rest, false)
	return strings.ToLower(key), value
}

// configWord reads one word, with double quotes removed; a keyword also
// ends at "=". It returns the word and what follows it.
func configWord(s string, keyword bool) (word, rest string) {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ' ' || c == '\t' || keyword && c == '='):
			return b.String(), s[i:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}
