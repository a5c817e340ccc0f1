let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in assert or.c .5 &&1.e2; with { x?''
  i
'', a, /* k */ }: or; <n/l> >=http://e.org/x
