package services

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// PruneLock drops inputs flake.nix no longer declares from flake.lock by
// running `nix flake lock`, which locks what is missing and updates
// nothing (the same command on Nix 2.8 and current Nix). Without a
// flake.lock there is nothing to prune and nix is not run.
func PruneLock(ctx context.Context, dir string, stderr io.Writer) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, "flake.lock")); err != nil {
		return false, nil
	}
	cmd := exec.CommandContext(ctx, "nix", "--extra-experimental-features", "nix-command flakes", "flake", "lock")
	cmd.Dir = dir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return true, fmt.Errorf("nix flake lock: %w", err)
	}
	return true, nil
}
