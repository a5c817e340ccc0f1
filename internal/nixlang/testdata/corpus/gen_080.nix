let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in [ rec {q'.b /* k */ = with f; {}; /* k */ inherit (assert {};~/h) x or; }-
  (if <n/l> then f else "s") /* k */ rec { y =
  {
  or,  # c
}@or:  # c
.5 ./p ? b.${__curPos}.q';  # c
y.b = let /* k */  inherit ;
   in true ? z-1; }]
