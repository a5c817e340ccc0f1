let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in [ ((~/h)) /* k */ ++ /* k */ {  # c
b, z-1, ...
  }@a: - null let or."a" = (null  # c
++ http://e.org/x); "x${"y"}".x  # c
= rec { } or; in if 1.e2  # c
*
  true then a>
  <n/l> else a.z-1 or http://e.org/x ]
