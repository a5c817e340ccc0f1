a: b: c: { inherit a b c; }
