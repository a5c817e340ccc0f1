package remote

import (
	"context"
	"os"
)

// Local runs commands on the machine nixherd runs on.
type Local struct{}

func (Local) Name() string         { return "local" }
func (Local) IsRoot() bool         { return os.Geteuid() == 0 }
func (Local) Store() string        { return "" }
func (Local) NixSSHOpts() []string { return nil }
func (Local) Close() error         { return nil }

func (l Local) Run(ctx context.Context, c Command) ([]byte, error) {
	out, err := Exec(ctx, "local", withSudo(c, l.IsRoot()), c)
	if c.Root && !l.IsRoot() {
		err = explainSudo("local", "the user running nixherd", err)
	}
	return out, err
}
