args@{ self, nixpkgs, ... }: { inherit self; n = nixpkgs; a = args; }
