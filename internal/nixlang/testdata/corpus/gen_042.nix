let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in - if {} /* k */ < f then assert ./p; http://e.org/x else 1.e2 ||  # c
"s"
