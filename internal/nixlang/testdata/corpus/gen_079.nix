let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in assert let /* k */  "$".b= with 1.e2; /* k */ .5;
   in assert ./p/${x}; or; if if or then {} else __curPos then c: <n/l> else ./p <= /* k */ "a${x}b"
