package main

import (
	"fmt"

	"github.com/nixherd/nixherd/internal/buildinfo"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the nixherd version",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				fmt.Fprintln(cmd.OutOrStdout(), "nixherd", buildinfo.Version())
				return nil
			},
		}
	})
}
