let a = {}; b = 1; c = 2; x = 3; y = 4; or = 5; f = x: x; in [  ].x."b c".${rec { c = c: x@{ c, b,}:
  null;  # c
}} or ([  # c
{} a true
  ])
  ++z-1@{ /* k */ z-1, c?./p/${x} /* k */ / 0.5, a /* k */ }: [] {}
