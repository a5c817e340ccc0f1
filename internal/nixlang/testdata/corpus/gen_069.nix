let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let { inherit (0.5) _u y;_u.c /* k */ =f;q'.or.q' /* k */ = []; body = a; }
