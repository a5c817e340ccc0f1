// Package nixlang reads and edits Nix source the way Nix reads it, without
// evaluating anything.
//
// nixherd has to understand a fleet repository on a machine that may not
// have nixpkgs (evaluating it takes seconds to minutes), and it has to edit
// Nix files in place (adding a service, an input, an import) without
// disturbing the user's formatting. So this package has:
//
//   - a lexer and recursive-descent parser for the whole Nix language,
//     written to accept exactly what `nix-instantiate --parse` accepts
//     (the grammar of Nix's lexer.l and parser.y, checked against Nix 2.8
//     and current Nix);
//   - a concrete syntax tree that keeps every byte: each Token carries the
//     whitespace and comments before it, so File.Bytes of an unedited tree is
//     the source byte for byte, and every node has a line:col (and byte
//     offset) position;
//   - the checks Nix does at parse time: duplicate attributes (including
//     through a.b = …; a.b = …; and the merging of a = { … }; a.c = …;),
//     duplicate formals, dynamic attributes in let and inherit, and
//     undefined variables (anything under a `with` counts as defined);
//   - PrintNix, which prints a file the way `nix-instantiate --parse` does,
//     used to compare our parse structure with Nix's;
//   - an Editor that adds, replaces and removes attributes and list
//     elements as text splices, keeping comments and indentation; every
//     edit is re-parsed before it is returned;
//   - static helpers: Walk, Static (the value of literal data), attribute
//     lookup by path, and let-binding resolution.
//
// Errors are *Error values that print as file:line:col: message.
//
// How it is checked: the corpus test runs the real nix-instantiate --parse
// on testdata/corpus (hand-written hard cases, invalid files, generated
// programs) and on every .nix file of the repository, and requires the same
// verdict and, for accepted files, the same printed structure. The lexer
// follows lexer.l's longest-match rules down to oddities such as a.b/c
// being a path, 1e3 being 1 applied to e3, and a NUL byte ending the input.
//
// Caveats:
//   - Verdicts were checked against the real Nix 2.8 (the Nix of Debian 12)
//     with Options{Dialect: Nix28}. The default dialect, NixCurrent, follows
//     current Nix's sources (read, not run): more builtins in scope, and
//     a = { … }; a = { … }; merged recursively with dynamic attributes kept.
//     The experimental pipe operators |> and <| are not accepted, and the
//     opt-in lints of current Nix (URL literals, absolute paths) are not
//     applied.
//   - Error messages are our own (with hints such as the unclosed bracket);
//     only the verdict and the position are meant to agree with Nix's.
//   - Nix 2.8 prints let bindings and formals in memory-address order;
//     PrintNix sorts them by name.
//   - Nix's bison parser gives up when its stack exceeds 10000 entries; we
//     count the same entries and agree exactly on most shapes (parentheses,
//     lists, lets, lambdas, operators), but allow up to two levels more for
//     deeply nested attribute sets and formals, where bison's GLR splits
//     use a few extra entries.
package nixlang
