let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in { a, q'?x or, z-1, ...  # c
}@y:
  {}.z-1.or
