let a = { b = 1; }; in [ 1 "a" ./p (x: x) [ ] { } null a.b or 1 ]
