let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in ''
    ''$${{ /* k */ x =
  (1.e2); "".or
  = true.a.b.${{}}; a = with <n/l>;~/h; }}
  '' ? "".or.${with f
  -
  x assert null; ~/h; ''
x${if b then .5 else a}
  ''}
