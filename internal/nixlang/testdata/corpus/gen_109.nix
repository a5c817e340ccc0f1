let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in "${if ./p  # c
++ /* k */ null > {} [] then [let { a.b.${~/h}.or
  = a;"if".q'
  = null;or
  =  # c
b; body = "s"; }[
  ''
  i
''  # c
]x: /* k */ ~/h
  ] else if [ /* k */ f ] then ''
''\t${./p}
  '' else if "a${x}b" then or else {}}b$"
