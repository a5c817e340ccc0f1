let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let { inherit (with or;.5) ; body = "${__curPos}"; } ? ${if assert null; /* k */ [] then ~/h.a.b.or or ''
  i
'' else {} >
  http://e.org/x}.""._u
