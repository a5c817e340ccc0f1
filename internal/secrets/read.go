package secrets

// ReadSecret decrypts one secret of the fleet at root into memory, for other
// parts of nixherd (update reads the github-token secret with it). name is
// the rule's file with or without ".age" ("github-token"); identityFiles are
// as for LoadIdentities (nil: ~/.ssh/id_ed25519 and ~/.ssh/id_rsa). The rules
// file is found as by FindRules with no flag.
func ReadSecret(root, name string, identityFiles []string) ([]byte, error) {
	path, err := FindRules(root, "")
	if err != nil {
		return nil, err
	}
	rs, err := LoadRules(path)
	if err != nil {
		return nil, err
	}
	r, err := rs.Lookup(name)
	if err != nil {
		return nil, err
	}
	ids, err := LoadIdentities(identityFiles)
	if err != nil {
		return nil, err
	}
	return rs.Decrypt(r, ids)
}
