let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in {
  _u?[  # c
b ~/h 1  # c
]  # c
!=.5>[] or, }@c:
  ({ /* k */ ${a}.or =
  b; z-1.a.z-1 /* k */ = /* k */ ./p;
  } /* k */ +
  with b;  # c
"a${x}b")
