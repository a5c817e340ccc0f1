let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let { or."".""  # c
=[
   ]; body = {}
  // http://e.org/x if <n/l> then http://e.org/x else b; } or
