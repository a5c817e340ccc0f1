let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in if {} {} then (~/h) else "\n${<n/l>}" /
  rec {
   /* k */ }
