let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  q'.b.${0.5} = []; b.q' = null;  in or
