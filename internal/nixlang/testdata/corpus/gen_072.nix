let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in {
  inherit b; "a"= assert c: /* k */ {x, a,
  }:{};  # c
if ./p then f else __curPos or; }
