// Package deploy is nixherd's deploy pipeline, one file per stage:
//
//	build.go     one nix evaluation for every selected machine (drv and out
//	             paths, platform), then one build of all their derivations
//	host.go      per host, in parallel up to Options.Parallel: connect → lock →
//	             copy missing paths (or build on the host) → guard → activate →
//	             record the generation; the machines of one host (a system and
//	             its users' homes) one after another, under one lock
//	lock.go      the per-host deploy lock that refuses a second deploy
//	cache.go     --cache: push closures once, hosts substitute from the cache
//	activate.go  the activation stage: an Activation (Direct sets the profile
//	             and activates; confirm.go's Guarded adds magic rollback)
//	summary.go   each machine's outcome and the run's summary (internal/ui
//	             renders it: the table, --json)
//	events.go    the events a Reporter receives as they happen
//
// Machines are selected before Run, by internal/hosts (names, globs, @tags,
// --all). Events go to a Reporter (internal/ui draws them); the summary comes
// back from Run, which fails as a whole only when evaluation or the build
// fails: per-host failures are outcomes in the summary.
package deploy
