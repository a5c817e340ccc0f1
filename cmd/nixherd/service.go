package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nixherd/nixherd/internal/services"
	"github.com/nixherd/nixherd/internal/shell"
	"github.com/nixherd/nixherd/internal/update"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var fl flakeFlag
		cmd := &cobra.Command{
			Use:   "service",
			Short: "Add, list and remove the fleet's containerised services (mkService)",
			Long: `Manage the fleet's services: each is a flake whose nixosModules.default runs
in its own NixOS container (mkService), reachable through NAT on the host.

A service lives in four places that the seed edits by hand: the flake input
and its _module.args.serviceFlakes entry in flake.nix, and its entry in the
services set (port, index, secrets, environment) and its mkService import in
programs/services/git-services.nix. nixherd service edits all four in place,
keeping every other byte of both files, and refuses an edit that nixherd
check would reject.

The fleet is --flake, as for every command (default the current folder);
add and remove edit its files, so there it must be a directory. The service
flake's own URL is add's --url.`,
		}
		fl.register(cmd.PersistentFlags())
		// The old name of --flake here; it cannot be taken for anything else.
		cmd.PersistentFlags().StringVarP(&fl.value, "dir", "C", ".", "the fleet `DIR` (old name of --flake)")
		cmd.PersistentFlags().MarkDeprecated("dir", "use --flake DIR")
		remove := serviceRemoveCmd(&fl)
		remove.ValidArgsFunction = fl.serviceCompletion
		needsSubcommand(cmd)
		cmd.AddCommand(serviceAddCmd(&fl), serviceListCmd(&fl), remove)
		return cmd
	})
}

func serviceAddCmd(fl *flakeFlag) *cobra.Command {
	var (
		spec   services.Spec
		env    []string
		noLock bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME --url URL --port PORT",
		Short: "Add a service: its flake input, serviceFlakes entry, services entry and mkService import",
		Long: `Add a service to the fleet. NAME is the NixOS container's name and the
flake input's: lowercase letters, digits and -, starting with a letter, at
most 11 characters. The container gets 192.168.100.(10 + index), the lowest
free index unless --index is given, and the host forwards PORT to it: a
port from 1024 up (the lower ones belong to the host's own services). When
a machine that will run the service already uses PORT for something else
(services.photoprism.port = 2342, a firewall port), add says where.

--secret NAME (repeatable) bind-mounts the agenix secret NAME read-only at
/run/secrets/NAME in the container and sets NAME_FILE (upper case, - as _)
to that path, e.g. --secret openai-api-key gives OPENAI_API_KEY_FILE. The
secret must be listed in secrets/secrets.nix. --env KEY=VALUE (repeatable)
sets more environment.

Nothing is changed, exit status 2, when the URL is not a flake reference,
the name, port or index is already used, the port is below 1024, the index
is past 244, the name is not a valid container name, a secret is not in
secrets.nix, or an --env is malformed. Both files are replaced together or
not at all.

Then the new input is locked with nix (as nixherd update NAME does) unless
--no-lock. If locking fails, for example offline, the service stays added:
run nixherd update NAME later.`,
		Example: `  nixherd service add notes --url git+ssh://git@github.com/me/notes.git --port 8070
  nixherd service add llm --url github:me/llm --port 8062 --index 9 \
      --secret openai-api-key --env OPENAI_MODEL=gpt-4o-mini
  nixherd service add stats --url path:./service-flakes/stats --port 8071 --flake ~/fleet --no-lock`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			dir, err := fl.dir("service add")
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("index") {
				spec.Index = -1
			} else if spec.Index < 0 {
				return exitCode(exitUsage, fmt.Errorf("service add: index %d is negative: the container address is 192.168.100.(10 + index); nothing was changed", spec.Index))
			}
			spec.Environment = nil
			for _, e := range env {
				v, err := services.ParseEnv(e)
				if err != nil {
					return exitCode(exitUsage, fmt.Errorf("service add: --env %w; nothing was changed", err))
				}
				spec.Environment = append(spec.Environment, v)
			}
			ch, err := services.Add(dir, spec)
			if err != nil {
				return exitCode(exitUsage, fmt.Errorf("service add: %w; nothing was changed%s", err, secretHint(err, fl)))
			}
			if err := ch.Commit(); err != nil {
				return fmt.Errorf("service add: %w", err)
			}
			out := cmd.OutOrStdout()
			s := ch.Service
			for _, w := range ch.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: warning: %s\n", w)
			}
			fmt.Fprintf(out, "added service %s: %s\n", s.Name, s.Summary())
			for _, fc := range ch.Files {
				fmt.Fprintf(out, "  edited %s\n", fc.Path)
			}
			for _, sec := range s.Secrets {
				fmt.Fprintf(out, "  secret %s: mounted read-only at %s, %s=%s\n", sec, services.SecretPath(sec), services.SecretVariable(sec), services.SecretPath(sec))
			}
			if list, err := services.List(dir); err == nil {
				for _, l := range list {
					if l.Name != s.Name {
						continue
					}
					if len(l.Machines) > 0 {
						fmt.Fprintf(out, "  runs on: %s\n", strings.Join(l.Machines, ", "))
					} else {
						fmt.Fprintf(out, "  no machine runs it yet: import %s in a NixOS machine's configuration\n", l.File)
					}
				}
			}
			if noLock {
				fmt.Fprintf(out, "not locked (--no-lock): run nixherd update %s\n", s.Name)
				return nil
			}
			lockInput(cmd, dir, s.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.FlakeURL, "url", "", "the service flake's `URL` (a flake reference); it must export nixosModules.default")
	f.IntVar(&spec.Port, "port", 0, "the `PORT` the service listens on, forwarded from the host (1024 and up)")
	cmd.MarkFlagRequired("url")
	cmd.MarkFlagRequired("port")
	f.IntVar(&spec.Index, "index", 0, "container address index `N`: 192.168.100.(10 + N) (default: the lowest free)")
	f.StringArrayVar(&spec.Secrets, "secret", nil, "agenix `SECRET` to mount at /run/secrets/SECRET with SECRET_FILE set (repeatable)")
	f.StringArrayVar(&env, "env", nil, "set `KEY=VALUE` in the service's environment (repeatable)")
	f.BoolVar(&noLock, "no-lock", false, "do not lock the new input with nix")
	return cmd
}

// lockInput locks a new input the way nixherd update NAME does. A failure
// only warns: the edit is done and stays.
func lockInput(cmd *cobra.Command, dir, input string) {
	ctx := cmd.Context()
	errOut := cmd.ErrOrStderr()
	_, err := update.Run(ctx, update.Options{
		Dir:    dir,
		Inputs: []string{input},
		Token:  githubToken(dir, nil),
		Stderr: errOut,
	})
	if err != nil {
		fmt.Fprintf(errOut, "nixherd: warning: the service is added, but locking input %s failed: %v\nnixherd: run `nixherd update %s` when nix can fetch it\n", input, err, input)
		return
	}
	fmt.Fprintf(cmd.OutOrStdout(), "locked input %s in flake.lock\n", input)
}

func serviceListCmd(fl *flakeFlag) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the services: flake, index, address, port, secrets, machines",
		Long: `List the fleet's services as the files define them, without evaluating
anything: each one's flake URL, index and container address
(192.168.100.(10 + index)), host port, secrets, and the machines that run
it (those whose configuration imports the file the service is defined in).
With --flake FLAKE#MACHINE, only the services that machine runs.`,
		Example: `  nixherd service list
  nixherd service list --flake ~/fleet#devnix --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fleet, err := fl.resolve(cmd.Context(), nil)
			if err != nil {
				return err
			}
			list, err := services.List(fleet.Dir)
			if err != nil {
				return exitCode(exitUsage, fmt.Errorf("service list: %w", err))
			}
			if m := fl.ref().Machine; m != "" {
				list = slices.DeleteFunc(list, func(s services.Service) bool { return !slices.Contains(s.Machines, m) })
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if list == nil {
					list = []services.Service{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			writeServiceTable(out, list)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the services as JSON")
	return cmd
}

func writeServiceTable(out io.Writer, list []services.Service) {
	if len(list) == 0 {
		fmt.Fprintln(out, "no services")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFLAKE\tINDEX\tADDRESS\tPORT\tSECRETS\tMACHINES")
	dash := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ",")
	}
	for _, s := range list {
		url := s.URL
		if url == "" {
			url = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", s.Name, url, s.Index, s.Address, s.Port, dash(s.Secrets), dash(s.Machines))
	}
	tw.Flush()
}

func serviceRemoveCmd(fl *flakeFlag) *cobra.Command {
	var noLock bool
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a service from the four places service add writes",
		Long: `Remove a service: its services entry and mkService import, its
serviceFlakes entry, and its flake input (kept when flake.nix still uses it
elsewhere). Removing a service that was just added gives back both files
byte for byte. Comments above the removed lines stay.

Unless --no-lock, nix then drops the input from flake.lock (nix flake lock,
which updates nothing else).`,
		Example: `  nixherd service remove notes
  nixherd service remove notes --flake ~/fleet --no-lock`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := fl.dir("service remove")
			if err != nil {
				return err
			}
			ch, err := services.Remove(dir, args[0])
			if err != nil {
				return exitCode(exitUsage, fmt.Errorf("service remove: %w; nothing was changed", err))
			}
			if err := ch.Commit(); err != nil {
				return fmt.Errorf("service remove: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "removed service %s\n", ch.Service.Name)
			for _, fc := range ch.Files {
				fmt.Fprintf(out, "  edited %s\n", fc.Path)
			}
			if ch.KeptInput != "" {
				fmt.Fprintf(out, "  %s\n", ch.KeptInput)
			}
			if noLock || ch.Input == "" {
				return nil
			}
			ctx := cmd.Context()
			ran, err := services.PruneLock(ctx, dir, cmd.ErrOrStderr())
			switch {
			case err != nil:
				fmt.Fprintf(cmd.ErrOrStderr(), "nixherd: warning: the service is removed, but %v\nnixherd: run `nixherd update` to drop input %s from flake.lock\n", err, ch.Input)
			case ran:
				fmt.Fprintf(out, "dropped input %s from flake.lock\n", ch.Input)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noLock, "no-lock", false, "leave flake.lock as it is")
	return cmd
}

// secretHint is how to declare a secret service add was given but
// secrets.nix does not list: the rule first, then the command that creates
// the secret, for the fleet the user named.
func secretHint(err error, fl *flakeFlag) string {
	var unknown *services.UnknownSecretError
	if !errors.As(err, &unknown) {
		return ""
	}
	rules := unknown.Rules
	if rules == "" {
		rules = filepath.Join(fl.ref().Flake, "secrets", "secrets.nix")
	}
	edit := "nixherd secrets edit " + unknown.Secret
	if dir := fl.ref().Flake; dir != "." {
		edit = "nixherd secrets --flake " + shell.Quote(dir) + " edit " + unknown.Secret
	}
	return fmt.Sprintf("\nto declare it: add  \"%s.age\".publicKeys = [ … ];  to %s (the keys that may read it), then run  %s  to set its value, and add the service again",
		unknown.Secret, rules, edit)
}
