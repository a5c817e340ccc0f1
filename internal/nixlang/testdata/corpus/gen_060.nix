let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  z-1._u = !~/h - ~/h._u.x.a.b;  # c
 in -rec {  # c
q'.q'.${''
  i
''} /* k */ = /* k */ ~/h; q'.${x}."b c" /* k */ = "s"; inherit ({}) a; }
