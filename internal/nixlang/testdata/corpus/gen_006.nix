let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in ''
      y${rec {${let { _u =let {  body = null; };
  inherit ; body = ./p  # c
+
  []; }}= or: ./p/${x} or; inherit ('' x${!''
  i
''}
  '') b c; /* k */ }}''
