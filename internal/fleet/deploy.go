package fleet

// deployFile is where the fleet says where its machines are deployed
// (internal/hosts reads it fully, with nix; here it is read statically so
// check can compare it with the flake without running anything).
const deployFile = "deploy.nix"

// Deployment is one machines.<name> entry of deploy.nix.
type Deployment struct {
	Name string
	// Configuration is the flake configuration it deploys (default Name).
	Configuration string
	// Platform is as written ("nixos", "darwin", "home"), empty when absent.
	Platform    string
	Pos         Pos
	PlatformPos Pos
}

func (r *reader) readDeploy() {
	root := r.trees[deployFile]
	if root == nil {
		return
	}
	v := r.ev.top(root, deployFile)
	machines := lookup(r.ev, v, "machines")
	if machines == nil || machines.kind != attrsVal {
		return
	}
	for _, name := range machines.attrs.names {
		d := &Deployment{Name: name, Configuration: name, Pos: machines.attrs.keys[name]}
		m := r.ev.force(machines.attrs.vals[name])
		if c := lookup(r.ev, m, "configuration"); c != nil && c.kind == strVal {
			d.Configuration = c.s
		}
		if p := lookup(r.ev, m, "platform"); p != nil && p.kind == strVal {
			d.Platform, d.PlatformPos = p.s, p.pos()
		}
		r.f.Deployments = append(r.f.Deployments, d)
	}
}
