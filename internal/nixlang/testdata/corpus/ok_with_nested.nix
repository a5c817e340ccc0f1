with { a = 1; }; with { b = 2; }; let c = a + b; in c + d
