let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in if let { or."b c"."$"=
  '' ''\t${if or then ~/h else true}''; body = let /* k */  _u.${(./p)}._u= b.${1.e2}."" or "s";  # c
y._u.q' =rec { ${[]}.y.z-1 /* k */ =  # c
or; };  # c
"".or.x =  # c
with {}; /* k */ x;  in [] //  # c
null; } then if '' '''${with a;
  {}}'' then a:
  (''
  i
'') else if "a${1.e2}" then ''
    x${x}'' else ./p/${x}.or or ./p else x: (-"s")
