let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in rec {x.b.z-1  # c
= let { "a" = <n/l>; body = b; }; /* k */ or."a"= '' x${null}'';  # c
}&& ([ http://e.org/x /* k */ ]) ? _u.q'
