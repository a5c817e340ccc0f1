{ inherit (x) a; a = 1; }
