# leading comment
/* block
   comment */ { # inline
  a = 1; /* between */ b = 2; # trailing
  /**/ c = /***/ 3;
} # end
