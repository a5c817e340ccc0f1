// Package secrets is nixherd's agenix-compatible secrets tool.
//
// A fleet keeps its secrets as age files (secrets/*.age) encrypted to SSH and
// age public keys, and a rules file (secrets/secrets.nix) saying which keys
// may decrypt which file. The agenix NixOS and nix-darwin modules decrypt the
// same files at activation, so everything written here must stay readable by
// the age CLI: encryption and decryption use filippo.io/age in-process (with
// agessh for SSH keys and armor for armored files), never a subprocess.
//
// Where agenix is fragile this package is strict:
//   - rekey re-encrypts only the files whose recipients differ from the rules,
//     and writes all of them beside their targets before renaming any, so a
//     failure leaves every file as it was;
//   - the recipients of a file are read from its header without a private key
//     (see ReadHeader), so Check can audit a repository in CI;
//   - plaintext lives only in a private 0700 directory that is removed on
//     every exit path, including SIGINT and SIGTERM;
//   - a missing secret is an error, never empty output, and new content is
//     read from standard input only when asked to.
package secrets
