let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in ''
    x${if b then true else []}
  ''.y or assert { /* k */ c, y, ... }@c: /* k */ <n/l>;  # c
''
    ''$${0.5}''
