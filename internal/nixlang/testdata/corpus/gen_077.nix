let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in ~/h 1.e2 != /* k */ let { q' =  # c
true; /* k */ ${~/h}."".x  # c
= 0.5; /* k */ z-1.${a}.${"s"} /* k */ = x; body = a; } ? c.${if !f then let { inherit (or) a; y.a.a = .5; body = <n/l>; } else let { z-1.${~/h}._u =  # c
x;${1.e2}.b = /* k */ 1;_u.x = 1.e2; body = or; }} or
