let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let
   b.a.b  # c
= {
  y /* k */ }:let  # c
 ${"a${x}b"}.x.a.b /* k */ = 1.e2;  in or;  # c
"x${"y"}".or  # c
=  # c
let inherit (f) a;inherit ; /* k */  in .5  # c
>
  b: x;  # c
or.${let    in let { inherit ;
  ${~/h}
  = /* k */ a; body = true; }}=
  ''
'''${{}}'' +
  { ${<n/l>}.c =
  a; /* k */ c =  # c
{}; /* k */ inherit (1) q'; };  in assert true; 1.e2 ? c."a"
