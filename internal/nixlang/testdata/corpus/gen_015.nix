let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in with let {  body = .5; } 0.5.or."a" or ''
  i
''; with "s" >  # c
f; /* k */ rec {  } or
