let a = {}; in a.
