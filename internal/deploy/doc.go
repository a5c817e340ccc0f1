// Package deploy is nixherd's deploy pipeline, one file per stage:
//
//	select.go    which machines (names, globs, @tags, --all; in internal/hosts)
//	build.go     one nix evaluation for every selected machine, then one build
//	host.go      per host, in parallel: connect → lock → copy → guard → activate
//	lock.go      the per-host deploy lock that refuses a second deploy
//	activate.go  the activation stage (an Activation; safety plugs in its own)
//	cache.go     --cache: push closures once, hosts substitute from the cache
//	summary.go   the outcome of each host and the run's summary
//
// Events go to a Reporter as they happen (internal/ui draws them); the
// summary comes back from Run.
package deploy
