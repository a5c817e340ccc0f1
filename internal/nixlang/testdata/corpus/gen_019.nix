let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in !0.5._u  # c
&&
  -x< /* k */ let  inherit ; /* k */ b.b.x
  ="s"."x${"y"}".${[]}.c or ''
  i
''; /* k */ q'.${<n/l>."if"."$"."" or f} =
  with or; 1.e2; /* k */  in assert null; __curPos
