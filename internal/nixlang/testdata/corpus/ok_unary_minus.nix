let x = 1; in [ (-x) (- x) (0-x) (-(-x)) ]
