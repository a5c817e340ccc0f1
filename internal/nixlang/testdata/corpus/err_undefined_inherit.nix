let inherit a; in a
