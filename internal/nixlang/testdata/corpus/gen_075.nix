let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in { "$".a.b = /* k */ 0.5._u.b or <n/l> ? "x${"y"}".y.x; "if".b."$"
  = /* k */ assert ''
  i
''; __curPos  # c
>f or; /* k */ }
