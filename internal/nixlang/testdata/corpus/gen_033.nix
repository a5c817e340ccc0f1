let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in if <n/l>.a or <n/l>.y.z-1.b then let  # c
   # c
 in a: .5 else null++ [] ? x.c.c
