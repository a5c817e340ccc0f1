let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let { ${- x}.z-1  # c
=  # c
0.5.or.a.b; /* k */ inherit (a // 1) ; body = z-1:  # c
0.5; }
