let x = { a = 1; b = 2; }; in { inherit (x) a b; inherit x; c = x.a; }
