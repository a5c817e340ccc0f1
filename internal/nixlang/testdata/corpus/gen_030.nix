let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  z-1.a.b.c= true;
   in [] assert http://e.org/x; /* k */ ~/h ? or.${assert __curPos; 1 <=
  x@{  }: /* k */ http://e.org/x}
  +if assert [ 0.5b
  ]; /* k */ q': ./p/${x} then assert (a);  # c
<n/l> +0.5 else if let { inherit (a) or _u; body = ./p/${x}; } then [ ] else rec {c.c.a.b =http://e.org/x;
  ${true}._u =
  <n/l>;
  x /* k */ ={}; }
