let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in if 0.5 then null else "a${x}b"
