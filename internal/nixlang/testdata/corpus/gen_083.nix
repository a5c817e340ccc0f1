let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in assert let  x
  =  # c
let { "a"."x${"y"}".or = .5; _u= http://e.org/x; y = /* k */ __curPos; body = ~/h; } or; b.y = ./p  # c
// ./p ? or.a;
   in (a or); let { q'."$" = /* k */ "\n${"${"a${x}b"}"}"; inherit b; z-1.or  # c
= [
  let  inherit b;
  b.c.a.b  # c
=
  ''
  i
'';  in f or null ''
  i
''  # c
< {} ]; body = - let { y."x${"y"}"
  = true; body = true; }; }
