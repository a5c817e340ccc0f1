let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in - {}|| ''
  i
'' .5 ? b.b.${let { ${let { inherit (0.5) ; inherit (1) ; body = b; }}.b.c
  = /* k */ let  inherit (true) ;  # c
inherit (<n/l>) ;  # c
${1.e2}.b
  =  # c
~/h; /* k */  in ''
  i
''; or ="a${"s"}"; body = (./p/${x}); }}
