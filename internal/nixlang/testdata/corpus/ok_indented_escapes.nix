''
  dollar: ''${x}
  quotes: '''
  backslash: ''\n''\t''\\
  lone: $ and ' and ''$
    indented ${"interp"}
''
