[ ./a ./a/b ../c /etc/nixos a/b ~/x <nixpkgs> <nixpkgs/lib> ./a/../b ./. ]
