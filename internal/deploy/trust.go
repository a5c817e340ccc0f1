package deploy

import (
	"errors"
	"strings"
)

// UntrustedError is a copy the host's Nix refused because the deploy user
// may not add unsigned store paths: Nix's own message ("lacks a signature
// by a trusted key") names the symptom, not the three ways out.
type UntrustedError struct {
	Host string
	Err  error
}

func (e *UntrustedError) Error() string {
	return e.Host + ": the host's Nix refused the closure because it lacks a signature by a key the host trusts.\n" +
		"Deploy as root (target root@…), add the deploy user to nix.settings.trusted-users on the host, " +
		"or sign the closure with a key listed in the host's nix.settings.trusted-public-keys " +
		"(nix store sign, or a cache store URL with ?secret-key=FILE).\n" + e.Err.Error()
}

func (e *UntrustedError) Unwrap() error { return e.Err }

// explainCopy turns Nix's signature refusal into an UntrustedError.
func explainCopy(host string, err error) error {
	if err == nil {
		return nil
	}
	var already *UntrustedError
	if errors.As(err, &already) {
		return err
	}
	msg := err.Error()
	// A remote daemon says "lacks a signature by a trusted key"; a store
	// opened directly (Nix 2.8) says "lacks a valid signature".
	if strings.Contains(msg, "lacks a signature by a trusted key") || strings.Contains(msg, "lacks a valid signature") {
		return &UntrustedError{Host: host, Err: err}
	}
	return err
}
