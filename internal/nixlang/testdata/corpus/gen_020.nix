let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in with with "a${rec {  # c
or.b
  = 1; /* k */ q'
  = <n/l>; /* k */ "b c".a  # c
= <n/l>; }}"; /* k */ with ./p ? a.x;  # c
if x then null else null;  # c
let
   q'.z-1= rec { inherit _u; /* k */ a.${./p/${x}} /* k */ = "s";} ''
  y${''
  i
''}
  ''; a.c=if {"a" =0.5; or = x; b = b; /* k */ } then ./p/${x} /* k */ != /* k */ ~/h else (./p); ${-let  inherit ({}) a b;_u =0.5;or.${null}.q' =  # c
0.5;  in b}  # c
=let  inherit ; in '' ''\t${f}''; /* k */  in ''   y${http://e.org/x}''.q'.c
