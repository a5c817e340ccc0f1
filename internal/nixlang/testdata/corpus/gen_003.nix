let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let    in [ a:
  0.5 orlet { a.b =
  [];  # c
"if"
  = "s"; body = 0.5; }.c.${x.${x}."$"} or __curPos orassert ~/h;./p/${x} ? or.z-1."if" ]
