// Package shell quotes words for the shells nixherd's commands and
// generated scripts meet: sh and dash (NixOS's /bin/sh is bash), bash, and
// zsh, the login shell of macOS, where ssh runs remote commands on a Mac.
//
// A word is left as it is only when every shell reads it back unchanged:
// letters, digits and -_./:@,+%= (so store paths and flags stay readable in
// logs), except that a word beginning with = is quoted: zsh's EQUALS option
// (on by default) replaces it with the path of the program named after it.
// Anything else is put in single quotes, inside which no shell expands
// anything; a single quote inside is closed, escaped with a backslash and
// reopened.
//
// Quoting keeps data from being read as shell syntax; it does not make text
// safe to put in a comment or a here-document, where a newline still ends
// the line. Callers that write scripts refuse control characters (see
// CheckText).
package shell

import (
	"fmt"
	"strings"
)

// safe holds the bytes that need no quoting anywhere in a word.
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@,+%="

// Quote returns s as one word for sh, bash and zsh.
func Quote(s string) string {
	if s != "" && s[0] != '=' && strings.Trim(s, safe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each of args and joins them with spaces into one command line.
func Join(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// CheckText returns an error when s, which is about to be written into a
// script, holds a control character (a newline, a carriage return, an
// escape…): quoted or not, such text is a way to make a script do what its
// author did not mean, or to hide what it does from whoever reads it.
func CheckText(what, s string) error {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%s %q contains a control character; refusing to write it into a script", what, s)
		}
	}
	return nil
}
