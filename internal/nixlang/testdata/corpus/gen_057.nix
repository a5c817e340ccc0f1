let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in if assert ''
  y${"a${x}b"}''; let    in <n/l> then [
  if 1.e2 then or else __curPos http://e.org/x null [or  # c
[]  # c
.5 ] /* k */ ] else let  # c
  /* k */  in y: f
