let f = x: y: x; or = 1; g = 2; in f g or
