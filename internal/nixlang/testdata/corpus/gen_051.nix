let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in rec {
  inherit (with let {  body = "s"; };"${1.e2}") x y; /* k */ }."if" or {
  x }: with ./p.${<n/l>}; ''   y${[]}
  ''
