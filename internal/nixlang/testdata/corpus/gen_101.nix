let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in assert if 1.e2 != {} then - a else or x;  # c
-if 0.5 then x else null
