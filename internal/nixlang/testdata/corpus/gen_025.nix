let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  "x${"y"}".${http://e.org/x}.q' /* k */ = ~/h;
  inherit q' z-1;
  y."a".x= /* k */ .5;  # c
 in http://e.org/x&&  # c
let
   z-1= ./p/${x};  in "a${x}b"
