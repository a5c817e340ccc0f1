let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let  "$".or =http://e.org/x; b.a /* k */ = http://e.org/x; or.a /* k */ = /* k */ ''
  i
'';
   in or
