rec { inherit (x) y; x = { y = 1; }; }
