let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  "x${"y"}" = /* k */ if - "a${x}b" ? b then - let { or.b  # c
= "a${x}b";z-1.or
  = /* k */ .5; body = http://e.org/x; } else 1 &&
  ./p/${x} ./p/${x}// true; /* k */ inherit ([ assert __curPos; 1''
  i
''-> <n/l> /* k */ ] 1.e2  # c
&&
  ./p [] -> __curPos) ; /* k */ y  # c
= /* k */ if if with 1;  # c
{} then 0.5."".b.a or <n/l> else (true) then let /* k */  inherit q';  in null  # c
<  # c
''
  i
'' else { q', q'?1.e2 "s", _u?true ? a.b.y, ... }@x: - __curPos;  in { } < /* k */ - assert ~/h; a
