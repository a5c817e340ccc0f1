let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  a = b; y.a
  =  # c
1;  # c
 in 1== /* k */ let  b
  = "a${x}b";  in {}
