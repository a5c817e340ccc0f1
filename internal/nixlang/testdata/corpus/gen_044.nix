let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in z-1@{a?(__curPos // /* k */ true) /* k */ }:
  let { a = /* k */ "s"; ${or} = 0.5; "".c.b=~/h; body = 1.e2; }
  //  # c
"a${x}b" or
