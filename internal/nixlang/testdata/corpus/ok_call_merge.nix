let f = a: b: c: a; in [ ((f 1) 2 3) ((-1) 2) (<nixpkgs> 1) ]
