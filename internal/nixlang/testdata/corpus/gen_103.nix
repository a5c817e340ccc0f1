let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in c: if b then null else or ? ${1.e2 -
  ./p}."if" <=b@{ a?b
  }: /* k */ 0.5 /* k */ < y@{
  }: f ? "b c".q'
