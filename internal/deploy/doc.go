// Package deploy is nixherd's push deploy: a plan (internal/plan: one
// evaluation, one build, approval, a push to a cache) applied to many
// machines over SSH.
//
//	deploy.go  Run = plan.Make + Apply; Apply runs the hosts in parallel
//	           through internal/fanout (one connection per host, at most
//	           Options.Parallel at once, nothing new after an interrupt)
//	host.go    per host: connect → lock → copy missing paths (or build on
//	           the host) → apply.Apply (guard → profile → activation
//	           strategy → verify); the machines of one host (a system and
//	           its users' homes) one after another, under one lock
//	cache.go   hosts substitute the closures from the cache the plan pushed
//	trust.go   why a host refused an unsigned closure, in words
//	diff.go    what a deploy would change on each machine (diff, --ask)
//
// Machines are selected before Run, by internal/hosts (names, globs, @tags,
// --all). Events go to a report.Reporter (internal/ui draws them); the
// summary comes back from Run, which fails as a whole only when evaluation
// or the build fails: per-machine failures are outcomes in the summary.
// Applying a plan is separate from making it so that waves are a loop over
// Apply and a pull release is a recorded plan.
package deploy
