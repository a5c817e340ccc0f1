{ "if" = 1; "then" = 2; "in" = 3; "rec" = 4; "let" = 5; or = 6; }
