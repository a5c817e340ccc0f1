let
  or = 1;
  f = x: x;
  s = { inherit or; }.or;
in [ (f or) s { or = 3; }.or ]
