let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in let inherit (if {} ? "$"."b c"."b c" then if 1.e2 then null else null else "\n${{}}" ? x) ;
   in assert '' '''${b}''; 1 != /* k */ x *
  !null /* k */ || a
