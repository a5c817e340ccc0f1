let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  # c
   in rec {z-1.x  # c
=
  null;  # c
y.z-1._u = __curPos; }  # c
&& ~/h f  # c
<=  # c
or:  # c
{}
  < (__curPos)
