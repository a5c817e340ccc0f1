package main

import (
	"fmt"
	"os"

	"github.com/nixherd/nixherd/internal/nixlang"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var show bool
		cmd := &cobra.Command{
			Use:   "parse FILE...",
			Short: "Parse Nix files and report syntax and scope errors",
			Long: `parse parses each FILE with nixherd's Nix parser and reports the first
error of each as file:line:col: message. With --show it prints each
expression the way nix-instantiate --parse does. It exists for debugging
and for scripts/bench-parse.sh.`,
			Hidden: true,
			Args:   cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				failed := false
				home, _ := os.UserHomeDir()
				for _, name := range args {
					f, err := nixlang.ParseFile(name)
					if err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
						failed = true
						continue
					}
					if show {
						s, err := nixlang.PrintNix(f, "", home)
						if err != nil {
							fmt.Fprintln(cmd.ErrOrStderr(), err)
							failed = true
							continue
						}
						fmt.Fprintln(cmd.OutOrStdout(), s)
					}
				}
				if failed {
					return exitCode(1, nil)
				}
				return nil
			},
		}
		cmd.Flags().BoolVar(&show, "show", false, "print each expression as nix-instantiate --parse does")
		return cmd
	})
}
