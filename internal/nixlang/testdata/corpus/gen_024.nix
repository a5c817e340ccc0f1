let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in !let  inherit ;
  b.${''
  i
''} =  # c
0.5;
  inherit (or) ;  in 1.e2 ++ assert ''
    '''${__curPos}''; /* k */ ''
'''${"a${x}b"}
  '' {
   }
