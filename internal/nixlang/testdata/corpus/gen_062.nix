let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in true !=
  0.5
