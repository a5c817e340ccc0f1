let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in {
    # c
}:  # c
let  # c
 inherit q' y; z-1 = rec {
  inherit b;  # c
_u=  # c
<n/l>; }; ${!./p} =1.e2.b.x; in [
  ''
  i
'']
