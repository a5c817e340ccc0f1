package main

import (
	"fmt"
	"time"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/watchdog"
	"github.com/spf13/pflag"
)

// safetyFlags are deploy's magic-rollback options.
type safetyFlags struct {
	confirmTimeout time.Duration
	noRollback     bool
}

func (s *safetyFlags) register(f *pflag.FlagSet) {
	f.DurationVar(&s.confirmTimeout, "confirm-timeout", watchdog.DefaultConfirmTimeout,
		"how long a switched host waits for the deployer's confirmation (health checks included) before it rolls back")
	f.BoolVar(&s.noRollback, "no-rollback", false,
		"switch without the watchdog: set the profile and activate directly, no confirmation, no rollback")
}

func (s *safetyFlags) validate() error {
	if s.confirmTimeout < 2*time.Second {
		return fmt.Errorf("--confirm-timeout %s: use at least 2s", s.confirmTimeout)
	}
	return nil
}

// activation is the deploy's activation stage: guarded unless --no-rollback.
func (s *safetyFlags) activation() deploy.Activation {
	if s.noRollback {
		return deploy.Direct{}
	}
	return deploy.Guarded{ConfirmTimeout: s.confirmTimeout}
}
