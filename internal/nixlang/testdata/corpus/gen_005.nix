let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in a:
  f._u.y.c //  # c
with let { x = /* k */ {}; b.${http://e.org/x}
  = a; z-1.z-1 ="s"; body = 1; };__curPos or
