package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/nixherd/nixherd/internal/secrets"
	"github.com/nixherd/nixherd/internal/shell"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// secretsFlags are shared by every secrets subcommand.
type secretsFlags struct {
	fleet      flakeFlag
	rules      string
	identities []string
}

// base is the directory the rules file is looked for in: the current one,
// as agenix does, unless --flake names the fleet. A fleet nix fetched can be
// read (list, check, decrypt) but not written.
func (f *secretsFlags) base(cmd *cobra.Command, writes bool) (string, error) {
	if !cmd.Flags().Changed("flake") {
		return os.Getwd()
	}
	if writes {
		return f.fleet.dir("secrets " + cmd.Name())
	}
	if m := f.fleet.ref().Machine; m != "" {
		return "", exitCode(exitUsage, fmt.Errorf("secrets works on the whole fleet, not on one machine: drop #%s from --flake", m))
	}
	fleet, err := f.fleet.resolve(cmd.Context(), nil)
	return fleet.Dir, err
}

// load finds and reads the rules file; one that is missing or does not
// read is bad input (exit 2).
func (f *secretsFlags) load(cmd *cobra.Command, writes bool) (*secrets.Rules, error) {
	dir, err := f.base(cmd, writes)
	if err != nil {
		return nil, err
	}
	path, err := secrets.FindRules(dir, f.rules)
	if err != nil {
		return nil, exitCode(exitUsage, err)
	}
	rs, err := secrets.LoadRules(path)
	if err != nil {
		return nil, exitCode(exitUsage, err)
	}
	return rs, nil
}

// secret loads the rules and finds the secret called name in them; a name
// the rules do not list is bad input.
func (f *secretsFlags) secret(cmd *cobra.Command, name string, writes bool) (*secrets.Rules, *secrets.Rule, error) {
	rs, err := f.load(cmd, writes)
	if err != nil {
		return nil, nil, err
	}
	r, err := rs.Lookup(name)
	if err != nil {
		return nil, nil, exitCode(exitUsage, err)
	}
	return rs, r, nil
}

// identities loads the -i keys; one that cannot be read is bad input.
func (f *secretsFlags) loadIdentities() (*secrets.Identities, error) {
	ids, err := secrets.LoadIdentities(f.identities)
	if err != nil {
		return nil, exitCode(exitUsage, err)
	}
	return ids, nil
}

func init() {
	register(func() *cobra.Command {
		f := &secretsFlags{}
		cmd := &cobra.Command{
			Use:   "secrets",
			Short: "Manage agenix secrets: list, edit, decrypt, encrypt, rekey, check",
			Long: `Manage the fleet's agenix secrets: age files under secrets/, encrypted to the
SSH and age public keys that secrets/secrets.nix lists for each file. The files
stay readable by the agenix NixOS and nix-darwin modules and the age CLI.

The rules file is --rules, else $RULES, else ./secrets.nix (as agenix), else
./secrets/secrets.nix; with --flake DIR those two are looked for in DIR
instead of the current directory. It is read as plain data; what nixherd cannot follow
on its own (an import of keys.nix) is evaluated by nix restricted to the
fleet: no other file, no network, no environment. Secrets are named by their
file, relative to the rules folder or to the current directory, with or
without .age ("api-key", "secrets/api-key.age"); a name beginning with "-"
goes after "--" or as a path ("./-x.age").

Exit status: 0 done, 1 what the command reports (drift for check) or a
failure, 2 bad input (no rules file, a broken one, an unknown secret).

Identities (-i, repeatable) are SSH private keys or age identity files; the
default is ~/.ssh/id_ed25519 and ~/.ssh/id_rsa. A passphrase-protected key asks
once per run, on the terminal (or through the program in $NIXHERD_ASKPASS).`,
		}
		f.fleet.register(cmd.PersistentFlags())
		cmd.PersistentFlags().StringVar(&f.rules, "rules", "", "the rules file (default $RULES, ./secrets.nix or ./secrets/secrets.nix)")
		cmd.PersistentFlags().StringArrayVarP(&f.identities, "identity", "i", nil, "private key or age identity file to decrypt with (repeatable)")
		needsSubcommand(cmd)
		cmd.AddCommand(
			secretsListCmd(f), secretsEditCmd(f), secretsDecryptCmd(f), secretsEncryptCmd(f),
			secretsRekeyCmd(f), secretsCheckCmd(f), secretsInstallHookCmd(f),
		)
		for _, sub := range cmd.Commands() {
			switch sub.Name() {
			case "edit", "decrypt", "encrypt":
				sub.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					if len(args) > 0 {
						return nil, noFiles
					}
					return f.secretCompletion(c, args, toComplete)
				}
			case "rekey":
				sub.ValidArgsFunction = f.secretCompletion
			}
		}
		return cmd
	})
}

func secretsListCmd(f *secretsFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every secret with its recipients, armor and status",
		Long: `List every secret in the rules, and every stray file beside them, with its
recipients (named after the let bindings of secrets.nix), whether it is armored,
and its status: ok, needs rekey, missing file, not in rules, not encrypted.
Reads only the files' headers; no private key is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := f.load(cmd, false)
			if err != nil {
				return err
			}
			entries, err := rs.Audit()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if entries == nil {
					entries = []*secrets.Entry{}
				}
				return enc.Encode(entries)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tSTATUS\tARMOR\tRECIPIENTS")
			for _, e := range entries {
				names := make([]string, len(e.Recipients))
				for i, r := range e.Recipients {
					names[i] = r.String()
				}
				armor := "-"
				if e.Armor {
					armor = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.File, e.Status, armor, strings.Join(names, ", "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func secretsEditCmd(f *secretsFlags) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "edit NAME",
		Short: "Edit a secret in $VISUAL or $EDITOR, or set it from standard input",
		Long: `Edit a secret and re-encrypt it only if the content changed; the file is
replaced atomically. A secret in the rules whose file does not exist yet is
created.

Where the new content comes from:
  - standard input, with --stdin, or when something is piped to edit (as
    agenix does): it is read into memory, never written in the clear, and
    empty input is refused;
  - otherwise $VISUAL, else $EDITOR (vi when neither is set), on a copy in
    a private directory (0700, in $XDG_RUNTIME_DIR or /dev/shm when there
    is one) that is removed on every exit, SIGINT, SIGTERM, SIGHUP and
    SIGQUIT included; what a run killed with SIGKILL left is removed by the
    next edit. If encryption fails the file is untouched and the edit is
    kept; its path is printed.`,
		Example: `  nixherd secrets edit github-token
  cd secrets && nixherd secrets edit github-token.age   # agenix's form
  pass show gh | nixherd secrets edit github-token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, r, err := f.secret(cmd, args[0], true)
			if err != nil {
				return err
			}
			ids, err := f.loadIdentities()
			if err != nil {
				return err
			}
			opts := secrets.EditOptions{Editor: editorCommand()}
			piped := false
			if in := cmd.InOrStdin(); fromStdin {
				opts.Stdin = in
			} else if fd, ok := in.(*os.File); !ok || !term.IsTerminal(int(fd.Fd())) {
				// Not a terminal: what is piped is the new content, as
				// agenix takes it; nothing piped leaves it to the editor.
				data, err := io.ReadAll(in)
				if err != nil {
					return fmt.Errorf("reading standard input: %w", err)
				}
				if len(data) > 0 {
					opts.Stdin, piped = bytes.NewReader(data), true
					defer clear(data)
				}
			}
			res, err := rs.Edit(r, ids, opts)
			var ie *secrets.InterruptedError
			switch {
			case errors.As(err, &ie):
				return exitCode(128+int(ie.Signal.(syscall.Signal)), err)
			case errors.Is(err, secrets.ErrEmptyInput):
				return exitCode(2, err)
			case err != nil:
				return err
			}
			shown := relToWd(rs.PathOf(r))
			from := ""
			if opts.Stdin != nil {
				from = " from standard input"
			}
			switch {
			case res.Created:
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: created%s\n", shown, from)
			case res.Changed:
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: updated%s\n", shown, from)
			case piped || fromStdin:
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: standard input holds what the secret already holds; the file is unchanged\n", shown)
			default:
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: unchanged\n", shown)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "stdin", false, "read the new content from standard input, also from a terminal (end with Ctrl-D)")
	return cmd
}

// editorCommand is the editor to run: $VISUAL, else $EDITOR, as Unix tools
// choose it ("" means vi).
func editorCommand() string {
	if v := os.Getenv("VISUAL"); v != "" {
		return v
	}
	return os.Getenv("EDITOR")
}

func secretsDecryptCmd(f *secretsFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "decrypt NAME",
		Short: "Decrypt a secret to standard output or a file",
		Long: `Decrypt a secret to standard output, or with -o to a file (written
atomically, mode 0600). A secret listed in the rules whose file is missing is
an error, not empty output. When no identity matches, the keys tried and the
file's recipients are printed.`,
		Example: `  nixherd secrets decrypt github-token -i ~/.ssh/id_ed25519`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, r, err := f.secret(cmd, args[0], false)
			if err != nil {
				return err
			}
			ids, err := f.loadIdentities()
			if err != nil {
				return err
			}
			plain, err := rs.Decrypt(r, ids)
			if err != nil {
				return err
			}
			if output != "" && output != "-" {
				return secrets.WritePrivateFile(output, plain)
			}
			_, err = cmd.OutOrStdout().Write(plain)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the plaintext to this file (mode 0600) instead of standard output")
	return cmd
}

func secretsEncryptCmd(f *secretsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "encrypt NAME",
		Short: "Encrypt standard input into a secret (no private key needed)",
		Long: `Encrypt standard input to the recipients the rules give NAME and replace its
file atomically. Needs no private key, so someone who may set a secret but
not read it can (agenix #9). Empty input is refused.`,
		Example: `  printf %s "$TOKEN" | nixherd secrets encrypt github-token`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, r, err := f.secret(cmd, args[0], true)
			if err != nil {
				return err
			}
			in := cmd.InOrStdin()
			if fd, ok := in.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
				fmt.Fprintln(cmd.ErrOrStderr(), "reading the secret from the terminal; end with Ctrl-D")
			}
			plain, err := io.ReadAll(in)
			if err != nil {
				return err
			}
			if len(plain) == 0 {
				return exitCode(2, fmt.Errorf("empty standard input: %s was not changed", relToWd(rs.PathOf(r))))
			}
			defer clear(plain)
			if err := rs.Encrypt(r, plain); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: encrypted to %d recipient(s)\n", relToWd(rs.PathOf(r)), len(r.Recipients))
			return nil
		},
	}
}

func secretsRekeyCmd(f *secretsFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "rekey [NAME...]",
		Short: "Re-encrypt the secrets whose recipients differ from the rules",
		Long: `Re-encrypt the secrets (all, or those named) whose recipients, read from their
age headers, or armor differ from the rules; the others stay byte-identical,
so git shows only what changed. --all re-encrypts every file.

All or nothing: each new file is written beside its target first, and the
files are renamed only when all were written; on any failure nothing changed.`,
		Example: `  nixherd secrets rekey                 # after adding a key to secrets.nix
  nixherd secrets rekey github-token --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := f.load(cmd, true)
			if err != nil {
				return err
			}
			var rules []*secrets.Rule
			for _, a := range args {
				r, err := rs.Lookup(a)
				if err != nil {
					return exitCode(exitUsage, err)
				}
				rules = append(rules, r)
			}
			ids, err := f.loadIdentities()
			if err != nil {
				return err
			}
			res, err := rs.Rekey(rules, ids, all)
			if err != nil {
				return err
			}
			w := cmd.ErrOrStderr()
			for _, s := range res.Skipped {
				fmt.Fprintf(w, "%s: missing, skipped\n", relToWd(filepath.Join(rs.Dir, s)))
			}
			for _, s := range res.Rekeyed {
				fmt.Fprintf(w, "%s: rekeyed\n", relToWd(filepath.Join(rs.Dir, s)))
				for _, why := range res.Reasons[s] {
					fmt.Fprintf(w, "  because %s\n", why)
				}
			}
			fmt.Fprintf(w, "%d rekeyed, %d up to date\n", len(res.Rekeyed), countOr(len(args), len(rs.Secrets))-len(res.Rekeyed)-len(res.Skipped))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "re-encrypt every secret, even those already up to date")
	return cmd
}

func countOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func secretsCheckCmd(f *secretsFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Audit the secrets against the rules without any private key",
		Long: `Audit every secret offline, for CI and pre-commit: the SSH recipients in each
file's header (by tag) against secrets.nix; age recipients, which leave no
identifier in a file, against what nixherd recorded when it wrote the file
(` + secrets.ManifestName + `: a file it has no record of, such as one agenix
wrote, needs a rekey); armor; files not in the rules, rules without files,
and plaintext in the secrets folder.

Exit status: 0 when everything matches, 1 on any drift (each file named with
what differs), 2 when the rules cannot be read. --json prints
{"rules": FILE, "ok": BOOL, "files": [{"file", "recipients", "armor",
"status", "problems"}]} with every file, as secrets list --json does.`,
		Example: `  nixherd secrets check          # in CI; no private key needed
  nixherd secrets check --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := f.load(cmd, false)
			if err != nil {
				return err
			}
			entries, err := rs.Audit()
			if err != nil {
				return exitCode(2, err)
			}
			bad := 0
			for _, e := range entries {
				if e.Status != secrets.StatusOK {
					bad++
				}
			}
			if asJSON {
				if entries == nil {
					entries = []*secrets.Entry{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"rules": rs.Path, "ok": bad == 0, "files": entries}); err != nil {
					return err
				}
				if bad > 0 {
					return exitCode(1, nil)
				}
				return nil
			}
			for _, e := range entries {
				if e.Status == secrets.StatusOK {
					continue
				}
				shown := relToWd(filepath.Join(rs.Dir, e.File))
				if len(e.Problems) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", shown, e.Status)
				}
				for _, p := range e.Problems {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s: %s\n", shown, e.Status, p)
				}
			}
			if bad > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "secrets check: %d of %d files need attention (nixherd secrets rekey fixes recipients)\n", bad, len(entries))
				return exitCode(1, nil)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "secrets check: %d secrets match %s\n", len(entries), rs.Path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print every file's status as JSON")
	return cmd
}

func secretsInstallHookCmd(f *secretsFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "install-hook",
		Short: "Install a git pre-commit hook that runs nixherd secrets check",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := f.base(cmd, true)
			if err != nil {
				return err
			}
			rules, err := secrets.FindRules(dir, f.rules)
			if err != nil {
				return exitCode(2, err)
			}
			if err := shell.CheckText("the rules file's path", rules); err != nil {
				return exitCode(2, err)
			}
			hook, err := secrets.InstallHook(dir, rules, force)
			if errors.Is(err, secrets.ErrForeignHook) {
				return fmt.Errorf("%w (--force replaces it)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "installed %s\n", relToWd(hook))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace a pre-commit hook nixherd did not write")
	return cmd
}

// relToWd shows a path relative to the working directory when it is below it.
func relToWd(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}
