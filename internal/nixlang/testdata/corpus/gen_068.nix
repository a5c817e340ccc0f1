let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in assert let /* k */  or.or=  # c
[ __curPos  # c
./p  # c
]; inherit (http://e.org/x.c.a.c or null) ; a.b.q' = /* k */ ./p/${x}.${x}.z-1; /* k */  in let { inherit y; "x${"y"}"."x${"y"}".or
  = ~/h; body = b; }; /* k */ with ''
  i
'';  # c
x  # c
|| with __curPos; http://e.org/x ? x."a".or
