let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in rec { /* k */ b."a".x = with ''
x${if http://e.org/x then .5 else 1}'';c: assert ~/h; /* k */ "s"; }
