let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in [rec { q'.a.${"s"} = 0.5; ${.5}
  =
  null; }  # c
.5 ==  # c
x  # c
let { "if" = [];
  b.a._u=  # c
0.5; body = a; } ]
