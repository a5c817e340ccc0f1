package remote

// Fresh returns a runner for the same host that opens a new SSH connection
// for every command instead of reusing the master. The deploy's confirmation
// uses it: a master opened before the activation proves nothing about
// whether a new login works after it.
func (s *SSH) Fresh() Runner {
	return &SSH{name: s.name, addr: s.addr, options: s.options, control: "none", root: s.root, sudoPassword: s.sudoPassword}
}

// As returns a runner over the same master connection that names itself
// name in messages: the machines of a run that live on one host share its
// connection, and each one's errors must name that machine.
func (s *SSH) As(name string) *SSH {
	return &SSH{name: name, addr: s.addr, options: s.options, control: s.control, root: s.root, sudoPassword: s.sudoPassword}
}
