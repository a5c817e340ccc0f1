let a = {}; c = {}; or = 1; d = 1; in a.b or c or d
