let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in with with (''
  i
'').or;''
    x${b: /* k */ http://e.org/x}''; let { inherit b q';  # c
inherit q' _u; body = "$${({})}"; }
