let a = { b = 1; }; in [ (a.b or 2) (a.c or 3) (a.c.d or a.b) ]
