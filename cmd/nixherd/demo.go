package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd"
	"github.com/nixherd/nixherd/internal/scaffold"
	"github.com/spf13/cobra"
)

// The demo, for now: write the reference fleet into a temporary folder and
// show what it holds. It needs no network and no Nix.
func init() {
	register(func() *cobra.Command {
		var keep bool
		cmd := &cobra.Command{
			Use:   "demo",
			Short: "Show the reference fleet, written into a temporary folder",
			Long: `demo writes the reference fleet that nixherd carries into a temporary
folder, as 'nixherd init' would, and shows its machines and files. It needs
no network. The folder is removed afterwards unless --keep is given.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				tmp, err := os.MkdirTemp("", "nixherd-demo-")
				if err != nil {
					return err
				}
				if !keep {
					defer os.RemoveAll(tmp)
				}
				dir := filepath.Join(tmp, "fleet")
				files, err := scaffold.Write(nixherd.ReferenceFleet, dir, scaffold.Options{}, false)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "nixherd init %s\n\n", dir)
				fmt.Fprintln(out, "machines:")
				for _, m := range scaffold.Machines {
					fmt.Fprintf(out, "  %-7s %-15s %-11s %s\n", m.Name, m.System, m.Platform, m.About)
				}
				fmt.Fprintf(out, "\nfiles (%d):\n", len(files))
				printTree(out, files)
				if keep {
					fmt.Fprintf(out, "\nkept in %s\n", dir)
				}
				return nil
			},
		}
		cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary folder and print its path")
		return cmd
	})
}

// printTree prints sorted slash paths as an indented tree, each folder once.
func printTree(out io.Writer, files []scaffold.File) {
	var prev []string
	for _, f := range files {
		parts := strings.Split(f.Path, "/")
		dirs := parts[:len(parts)-1]
		same := 0
		for same < len(dirs) && same < len(prev) && dirs[same] == prev[same] {
			same++
		}
		for i := same; i < len(dirs); i++ {
			fmt.Fprintf(out, "  %s%s/\n", strings.Repeat("  ", i), dirs[i])
		}
		fmt.Fprintf(out, "  %s%s\n", strings.Repeat("  ", len(dirs)), parts[len(parts)-1])
		prev = dirs
	}
}
