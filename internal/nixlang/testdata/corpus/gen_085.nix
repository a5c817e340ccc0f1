let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let { or.${with (f); with __curPos; /* k */ ''
  i
''} = /* k */ let  # c
 inherit y;  # c
q' =true.q'.y; in [  # c
x  # c
];
  inherit ({  # c
inherit z-1 or;y."" = _u: __curPos;inherit ; }) b z-1;
  inherit (let /* k */    in <n/l> x
  >= ~/h) y; body = assert "\n${1.e2}";
  - ./p; } ||
  let /* k */  inherit x;
  a.b /* k */ =  # c
''
    '''${''
    x${b}
  ''}
  '';
   in (or ? x."$".z-1)
